"""The CLI's way to a running `headway serve` (HEADWAY_URL): same commands, same output."""

from __future__ import annotations

from dataclasses import fields
from datetime import datetime
from typing import Any

import httpx
import orjson

from headway.config import get_settings
from headway.definitions import Definition
from headway.metrics.dora import MetricSet, Period, Scope
from headway.model import RECORD_TYPES
from headway.store import StoreError

TIMEOUT = httpx.Timeout(300.0, connect=5.0)
_KINDS = {record_type: kind for kind, record_type in RECORD_TYPES.items()}


class RemoteError(StoreError):
    """The server refused the request (bad input) or could not be reached."""


def _request(method: str, url: str, path: str, **kwargs: Any) -> Any:
    return _send(method, url, url.rstrip("/") + path, **kwargs).json()


def _send(method: str, url: str, address: str, **kwargs: Any) -> httpx.Response:
    token = get_settings().token
    if token:
        kwargs["headers"] = {**kwargs.get("headers", {}), "Authorization": f"Bearer {token}"}
    try:
        response = httpx.request(method, address, timeout=TIMEOUT, **kwargs)
    except httpx.HTTPError as error:
        raise RemoteError(
            f"cannot reach headway serve at {url} ({error}); check HEADWAY_URL or "
            "unset it to use the store directly"
        ) from None
    if response.status_code == 401:
        raise RemoteError(
            f"headway serve at {url} needs a token: set HEADWAY_TOKEN to a viewer token for "
            "reads (an admin token for imports); `headway tokens create` makes one"
        )
    if response.status_code >= 400:
        try:
            detail = response.json()
            message = detail.get("detail") or detail.get("error") or detail
        except ValueError:
            message = response.text
        if isinstance(message, list):  # FastAPI validation problems
            message = "; ".join(
                str(m.get("msg", m)) if isinstance(m, dict) else str(m) for m in message
            )
        raise (
            RemoteError(str(message))
            if response.status_code < 500
            else RemoteError(f"headway serve at {url} answered {response.status_code}: {message}")
        )
    return response


def get_json(
    url: str, path: str, params: dict[str, Any] | None = None, at_most: int | None = None
) -> Any:
    """GET `path`; a list comes whole (or its first `at_most` rows), page after page."""
    clean = {k: v for k, v in (params or {}).items() if v is not None}
    response = _send("GET", url, url.rstrip("/") + path, params=clean)
    data = response.json()
    while isinstance(data, list) and "next" in response.links:
        if at_most is not None and len(data) >= at_most:
            break
        response = _send("GET", url, response.links["next"]["url"])
        data.extend(response.json())
    return data if at_most is None else data[:at_most]


def import_records(url: str, records: list[Any]) -> dict[str, dict[str, int]]:
    """Send validated records as canonical JSONL; the server writes them all or none."""
    body = b"\n".join(orjson.dumps(to_json(r)) for r in records)
    result: dict[str, dict[str, int]] = _request(
        "POST",
        url,
        "/api/import/jsonl",
        content=body,
        headers={"Content-Type": "application/x-ndjson"},
    )
    return result


def to_json(record: Any) -> dict[str, Any]:
    """A canonical record as one JSONL object (the inverse of `sources.files.parse_record`)."""
    out: dict[str, Any] = {"type": _KINDS[type(record)]}
    for f in fields(record):
        value = getattr(record, f.name)
        if value is None:
            continue
        out[f.name] = (
            list(value)
            if isinstance(value, tuple)
            else (value.isoformat() if isinstance(value, datetime) else value)
        )
    return out


def metric_set(data: dict[str, Any]) -> MetricSet:
    """Rebuild a MetricSet from `/api/metrics` JSON, for the same table output as local runs."""
    period = Period(_naive(data["period"]["since"]), _naive(data["period"]["until"]))
    scope = data["scope"]
    return MetricSet(
        definition=Definition(
            name=data["definition"]["name"], version=data["definition"]["version"]
        ),
        scope=Scope(scope["kind"], scope["name"]),
        period=period,
        services=scope["services"],
        contexts=scope["contexts"],
        year=data["levels"]["year"],
        deployment_frequency=data["deployment_frequency"],
        change_lead_time=data["change_lead_time"],
        change_fail_rate=data["change_fail_rate"],
        failed_deployment_recovery_time=data["failed_deployment_recovery_time"],
        deployment_rework_rate=data["deployment_rework_rate"],
        warnings=data["warnings"],
        trend=[metric_set(t) for t in data.get("trend", [])],
    )


def _naive(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).replace(tzinfo=None)


__all__ = ["RemoteError", "get_json", "import_records", "metric_set", "to_json"]
