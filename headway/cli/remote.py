"""The one HTTP client of the CLI: a running `headway serve` (HEADWAY_URL, HEADWAY_TOKEN).

`Api` sends a request and turns every refusal into the error the local service would raise
(`NotFound`, `Conflict`, `ConfigError`) or a `RemoteError` that says what to do. The flag
service over it (and the token and user services of `cli.remote_access`) have the same
methods, results and errors as the local ones. The server, not the caller, decides who the
actor is: changes are recorded as `token:<name>`.
"""

from __future__ import annotations

import dataclasses
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import fields
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, BinaryIO

import httpx
import orjson

from headway.cli.common import RemoteError
from headway.definitions import Definition
from headway.flags.lifecycle import FlagLifecycle, StaleFlag
from headway.flags.model import ConfigError, Flag, Issue, Segment
from headway.flags.references import ReferenceReport
from headway.flags.refs import Scan
from headway.flags.service import Conflict, NotFound
from headway.flags.store import EnvironmentRow, FlagVersion
from headway.metrics.dora import MetricSet, Period, Scope
from headway.model import RECORD_TYPES

__all__ = [
    "Api",
    "RemoteError",
    "RemoteFlagService",
    "bundle_of",
    "metric_set",
    "to_json",
]

TIMEOUT = httpx.Timeout(300.0, connect=5.0)
_KINDS = {record_type: kind for kind, record_type in RECORD_TYPES.items()}


class Api:
    """One connection to the server's API (`/api/...`), shared by every command."""

    def __init__(self, url: str, token: str | None) -> None:
        self.url = url.rstrip("/")
        self.token = token
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        self._http = httpx.Client(base_url=self.url + "/api", headers=headers, timeout=TIMEOUT)

    def close(self) -> None:
        self._http.close()

    def call(self, method: str, path: str, *, at_most: int | None = None, **kwargs: Any) -> Any:
        """The answer; a list comes whole (or its first `at_most` rows), page after page."""
        if "params" in kwargs:
            kwargs["params"] = _present(kwargs["params"])
        body, following = self._call(method, path, **kwargs)
        while following and (at_most is None or len(body) < at_most):
            more, following = self._call(method, following)
            body.extend(more)
        return body if at_most is None else body[:at_most]

    def import_records(self, records: list[Any]) -> dict[str, dict[str, int]]:
        """Send validated records as canonical JSONL; the server writes them all or none."""
        body = b"\n".join(orjson.dumps(to_json(r)) for r in records)
        result: dict[str, dict[str, int]] = self.call(
            "POST",
            "/import/jsonl",
            content=body,
            headers={"Content-Type": "application/x-ndjson"},
        )
        return result

    def download(self, path: str, into: BinaryIO) -> None:
        """Stream the body of `GET path` (a file, not JSON) into `into`."""
        try:
            with self._http.stream("GET", path) as response:
                if response.status_code >= 400:
                    response.read()
                    try:
                        body = response.json()
                    except ValueError:
                        body = {"error": response.text}
                    raise self._refusal(response.status_code, body)
                for chunk in response.iter_bytes():
                    into.write(chunk)
        except httpx.HTTPError as error:
            raise self._unreachable(error) from None

    def _unreachable(self, error: Exception) -> RemoteError:
        return RemoteError(
            f"cannot reach headway serve at {self.url} ({error}); check HEADWAY_URL, or "
            "unset it to use the store directly"
        )

    def _call(self, method: str, path: str, **kwargs: Any) -> tuple[Any, str | None]:
        """The answer, and the address of its next page if it is a list with one."""
        try:
            response = self._http.request(method, path, **kwargs)
        except httpx.HTTPError as error:
            raise self._unreachable(error) from None
        if response.status_code == 204:
            return None, None
        try:
            body = response.json()
        except ValueError:
            body = {"error": response.text}
        if response.status_code < 400:
            following = response.links.get("next", {}).get("url")
            return body, following if isinstance(body, list) else None
        raise self._refusal(response.status_code, body)

    def _refusal(self, status: int, body: Any) -> Exception:
        message = body
        if isinstance(body, dict):
            message = body.get("error") or body
        if isinstance(message, list):  # FastAPI's validation problems
            message = "; ".join(
                str(m.get("msg", m)) if isinstance(m, dict) else str(m) for m in message
            )
        if status == 422 and isinstance(body, dict) and "problems" in body:
            return ConfigError(
                Issue(path=p["field"], message=p["problem"]) for p in body["problems"]
            )
        if status == 401:
            return RemoteError(
                f"headway serve at {self.url} needs a token: set HEADWAY_TOKEN to a viewer "
                "token for reads (an editor's for changes; an admin's for tokens, imports, "
                "reprocess and definitions set). The first admin token is the one `headway "
                "serve` printed when it started on a store without one; with it, `headway "
                f"tokens create` makes more through the server ({message})"
            )
        if status == 404:
            return NotFound(str(message))
        if status == 409:
            return Conflict(str(message))
        if status < 500:
            return RemoteError(str(message))
        return RemoteError(f"headway serve at {self.url} answered {status}: {message}")


def bundle_of(path: Path) -> tuple[bytes, str]:
    """The repository at `path` as one git bundle of every ref, and what its HEAD is
    (`refs/heads/NAME`, or a sha when detached), for `POST /api/import/git`."""
    from headway.sources.git import GitError, open_repository

    open_repository(path)  # the same refusals as a local import: missing, shallow, empty

    def git(*args: str) -> subprocess.CompletedProcess[bytes]:
        return subprocess.run(["git", "-C", str(path), *args], capture_output=True, check=False)

    head = git("symbolic-ref", "-q", "HEAD").stdout.decode().strip()
    head = head or git("rev-parse", "--verify", "-q", "HEAD").stdout.decode().strip()
    made = git("bundle", "create", "-q", "-", "--all")
    if made.returncode or not head:
        raise GitError(f"{path}: cannot bundle the repository ({made.stderr.decode().strip()})")
    return made.stdout, head


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
        release_lead_time=data.get("release_lead_time"),
    )


def _naive(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).replace(tzinfo=None)


class RemoteFlagService:
    """The `FlagService` methods the CLI uses, through the admin API."""

    def __init__(self, api: Api) -> None:
        self._api = api

    def list_flags(
        self, *, include_archived: bool = False, tag: str | None = None, owner: str | None = None
    ) -> list[Flag]:
        params = {"archived": include_archived, "tag": tag, "owner": owner}
        found = self._api.call("GET", "/flags", params=_present(params))
        return [Flag.model_validate(f) for f in found]

    def stale_flags(self) -> list[Flag]:
        return [Flag.model_validate(f) for f in self._api.call("GET", "/flags?stale=true")]

    def require_flag(self, key: str) -> Flag:
        return Flag.model_validate(self._api.call("GET", f"/flags/{key}"))

    def lifecycle(self, key: str) -> FlagLifecycle:
        return FlagLifecycle.model_validate(self._api.call("GET", f"/flags/{key}/lifecycle"))

    def stale(self, after: timedelta) -> list[StaleFlag]:
        found = self._api.call("GET", "/stale-flags", params={"after_days": after.days})
        return [StaleFlag.model_validate(s) for s in found]

    def record_references(self, repository: str, scan: Scan, *, actor: str) -> ReferenceReport:
        body = {
            "repository": repository,
            "commit": scan.commit,
            "files": scan.files,
            "references": [dataclasses.asdict(r) for r in scan.references],
            "skipped": list(scan.skipped),
        }
        return ReferenceReport.model_validate(self._api.call("POST", "/flag-refs", json=body))

    def create_flag(self, document: Mapping[str, Any], *, actor: str) -> Flag:
        return Flag.model_validate(self._api.call("POST", "/flags", json=dict(document)))

    def update_flag(self, key: str, fields: Mapping[str, Any], *, actor: str) -> Flag:
        return Flag.model_validate(self._api.call("PATCH", f"/flags/{key}", json=dict(fields)))

    def update_environment(
        self,
        key: str,
        environment: str,
        fields: Mapping[str, Any],
        *,
        actor: str,
        action: str = "update",
        expected_version: int | None = None,
    ) -> Flag:
        headers = {} if expected_version is None else {"If-Match": f'"{expected_version}"'}
        found = self._api.call(
            "PATCH",
            f"/flags/{key}/environments/{environment}",
            json=dict(fields),
            params={"action": action},
            headers=headers,
        )
        return Flag.model_validate(found)

    def kill(
        self, key: str, *, actor: str, environment: str | None = None, reason: str | None = None
    ) -> Flag:
        body = {"environment": environment, "reason": reason}
        return Flag.model_validate(self._api.call("POST", f"/flags/{key}/kill", json=body))

    def archive(self, key: str, *, actor: str, archived: bool = True) -> Flag:
        verb = "archive" if archived else "unarchive"
        return Flag.model_validate(self._api.call("POST", f"/flags/{key}/{verb}"))

    def history(self, key: str) -> list[FlagVersion]:
        return [
            FlagVersion(
                flag=key,
                version=v["version"],
                document=v["document"],
                actor=v["actor"],
                action=v["action"],
                comment=v["comment"],
                created_at=datetime.fromisoformat(v["at"]),
            )
            for v in self._api.call("GET", f"/flags/{key}/history")
        ]

    def list_segments(self) -> list[Segment]:
        return [Segment.model_validate(s) for s in self._api.call("GET", "/segments")]

    def put_segment(self, document: Mapping[str, Any], *, actor: str) -> Segment:
        key = document.get("key")
        if not isinstance(key, str) or not key:
            raise ConfigError([Issue(path="key", message="a segment needs a key")])
        return Segment.model_validate(
            self._api.call("PUT", f"/segments/{key}", json=dict(document))
        )

    def delete_segment(self, key: str, *, actor: str) -> None:
        self._api.call("DELETE", f"/segments/{key}")

    def import_flags(self, documents: Sequence[Mapping[str, Any]], *, actor: str) -> list[Flag]:
        found = self._api.call("POST", "/flags/import", json={"flags": list(documents)})
        return [Flag.model_validate(f) for f in found]

    def environments(self) -> list[EnvironmentRow]:
        found = self._api.call("GET", "/environments")
        return [
            EnvironmentRow(e["key"], e["name"], e["description"], i, tuple(e["cors_origins"]))
            for i, e in enumerate(found)
        ]

    def set_cors_origins(self, key: str, origins: list[str], *, actor: str) -> EnvironmentRow:
        e = self._api.call("PUT", f"/environments/{key}/cors-origins", json={"origins": origins})
        return EnvironmentRow(e["key"], e["name"], e["description"], 0, tuple(e["cors_origins"]))


def _present(params: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in params.items() if v is not None}
