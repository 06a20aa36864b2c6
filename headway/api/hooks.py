"""Webhook endpoints `/hooks/{source}`: authenticate, bound, parse, commit, then answer.

Every delivery is checked against the source's configured secret (a source without one is
refused), kept raw, interpreted by the source's adapter and committed by the group writer
before the answer goes out: 200 when it was stored, 202 when Headway keeps it but does not
use it, 200 with `duplicate` for a redelivery. Bad input gets a 4xx naming the problem.
"""

from __future__ import annotations

import dataclasses
import hashlib
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import orjson
from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, Field

from headway.api import prometheus
from headway.api.access import AccessLog
from headway.api.signatures import (
    Refused,
    token_verifier,
    verify_any,
    verify_github,
    verify_gitlab,
    verify_pagerduty,
)
from headway.config import Settings
from headway.ingest import deliveries
from headway.ingest.deliveries import Delivery, Parser
from headway.ingest.writer import GroupWriter
from headway.names import NUL_FIX, nul_in, nul_in_query
from headway.sources.mapping import Mapping, Parsed, PayloadError
from headway.store import StoreError, StoreUnavailable

router = APIRouter(prefix="/hooks", tags=["webhooks"])


class DeliveryResult(BaseModel):
    delivery: str = Field(description="The delivery id Headway deduplicates on.")
    outcome: str = Field(description="accepted | ignored | duplicate")
    records: int = Field(description="Canonical records the delivery produced.")
    note: str | None = Field(default=None, description="Why a delivery was ignored.")


# -- what each source calls its events and deliveries ---------------------------------------------


def _body_digest(body: bytes) -> str:
    # Sources without a delivery id: the same body redelivered is the same delivery.
    return "sha256-" + hashlib.sha256(body).hexdigest()


def _str(value: Any) -> str | None:
    return (
        str(value)
        if isinstance(value, str | int) and not isinstance(value, bool) and value != ""
        else None
    )


def _field(payload: dict[str, Any], outer: str, inner: str) -> str | None:
    """`payload[outer][inner]` as text, None when either is missing or of another type (the
    adapter then rejects the delivery naming the field)."""
    container = payload.get(outer)
    return _str(container.get(inner)) if isinstance(container, dict) else None


def _cdevent_id(payload: dict[str, Any]) -> str | None:
    """CloudEvents make (source, id) unique; the kind is added because producers reuse ids
    across event types. The same id `headway import cdevents` keeps, so either path dedupes."""
    from headway.sources.cdevents import CDEventError, kind_of

    event_id, origin = _field(payload, "context", "id"), _field(payload, "context", "source")
    if not event_id:
        return None
    try:
        return f"{kind_of(payload)}/{origin}#{event_id}"
    except CDEventError:
        return event_id  # the adapter rejects it with the reason


@dataclass(frozen=True)
class Source:
    name: str
    verify: Callable[[Request, bytes, str], None]
    event: Callable[[Request, dict[str, Any]], str | None]
    delivery: Callable[[Request, dict[str, Any], bytes], str | None]

    @property
    def setting(self) -> str:
        return f"{self.name}_webhook_secret"


SOURCES: dict[str, Source] = {
    "github": Source(
        "github",
        verify_github,
        event=lambda r, _p: r.headers.get("x-github-event"),
        delivery=lambda r, _p, _b: r.headers.get("x-github-delivery"),
    ),
    "gitlab": Source(
        "gitlab",
        verify_gitlab,
        event=lambda r, p: (
            _str(p.get("object_kind"))
            or _str(p.get("event_type"))
            or r.headers.get("x-gitlab-event")
        ),
        delivery=lambda r, _p, b: (
            r.headers.get("x-gitlab-event-uuid")
            or r.headers.get("idempotency-key")
            or _body_digest(b)
        ),
    ),
    "pagerduty": Source(
        "pagerduty",
        verify_pagerduty,
        event=lambda _r, p: _field(p, "event", "event_type"),
        delivery=lambda _r, p, _b: _field(p, "event", "id"),
    ),
    "opsgenie": Source(
        "opsgenie",
        token_verifier("HEADWAY_OPSGENIE_WEBHOOK_SECRET"),
        event=lambda _r, p: _str(p.get("action")),
        delivery=lambda _r, _p, b: _body_digest(b),
    ),
    "jira": Source(
        "jira",
        token_verifier("HEADWAY_JIRA_WEBHOOK_SECRET"),
        event=lambda _r, p: _str(p.get("webhookEvent")),
        delivery=lambda r, _p, b: (
            r.headers.get("x-atlassian-webhook-identifier") or _body_digest(b)
        ),
    ),
    "cdevents": Source(
        "cdevents",
        token_verifier("HEADWAY_CDEVENTS_WEBHOOK_SECRET"),
        event=lambda _r, p: _field(p, "context", "type"),
        delivery=lambda _r, p, _b: _cdevent_id(p),
    ),
}

_HEADERS = {"github": "X-GitHub-Delivery", "pagerduty": "event.id", "cdevents": "context.id"}


# -- the request pipeline -------------------------------------------------------------------------


async def _body(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        raise Refused(
            413, f"the body is {declared} bytes; the limit is {limit} (HEADWAY_WEBHOOK_MAX_BYTES)"
        )
    chunks = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise Refused(
                413, f"the body is over the limit of {limit} bytes (HEADWAY_WEBHOOK_MAX_BYTES)"
            )
        chunks.append(chunk)
    return b"".join(chunks)


class _State:
    """Per-app webhook machinery, created on first use and closed with the app."""

    def __init__(self, app: FastAPI) -> None:
        settings: Settings = app.state.settings
        self.settings = settings
        self.mapping = Mapping.from_settings(settings)
        self.writer = GroupWriter(app.state.store, settings)
        self.parsers: dict[str, Parser] = deliveries.parsers()


_lock = threading.Lock()


def webhook_state(app: FastAPI) -> _State:
    state: _State | None = getattr(app.state, "webhooks", None)
    if state is None:
        with _lock:
            state = getattr(app.state, "webhooks", None)
            if state is None:
                state = _State(app)
                app.state.webhooks = state

                async def close(app: FastAPI) -> None:
                    app.state.webhooks.writer.close()
                    app.state.webhooks = None

                app.state.shutdown_hooks.append(close)
    return state


async def _receive(request: Request, source: Source) -> Response:
    state = webhook_state(request.app)
    settings = state.settings
    secret = getattr(settings, source.setting)
    if not secret:
        raise Refused(
            403,
            f"{source.name} webhooks are not enabled: set "
            f"HEADWAY_{source.setting.upper()} (or {source.setting} in headway.toml) "
            "to the secret configured at the sender",
        )
    body = await _body(request, settings.webhook_max_bytes)
    verify_any(
        request, source.verify, body, [secret, getattr(settings, f"{source.setting}_previous")]
    )
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if not content_type.endswith("json"):
        raise Refused(
            415,
            f"Content-Type is {content_type or 'missing'!r}; send application/json "
            "(in GitHub, set the webhook's content type to application/json)",
        )
    try:
        payload = orjson.loads(body)
    except orjson.JSONDecodeError as error:
        raise Refused(400, f"the body is not valid JSON: {error}") from None
    if not isinstance(payload, dict):
        raise Refused(400, f"the body must be a JSON object, got {type(payload).__name__}")
    field = nul_in(payload) if b"\\u0000" in body else None  # JSON spells a NUL only so
    where = nul_in_query(request.query_params.multi_items()) or (field and f"field {field}")
    if where:
        raise Refused(400, f"{where} {NUL_FIX}")
    kind = source.event(request, payload)
    if not kind:
        raise Refused(
            400,
            f"cannot tell which {source.name} event this is (missing the event "
            "type header or field)",
        )
    delivery_id = source.delivery(request, payload, body)
    if not delivery_id:
        raise Refused(
            400,
            f"missing the delivery id ({_HEADERS.get(source.name, 'id')}), which "
            "Headway needs to store each delivery exactly once",
        )
    if state.writer.committed(f"{source.name}:{delivery_id}"):
        prometheus.DELIVERIES.labels(source.name, "duplicate").inc()
        return duplicate(delivery_id)
    received = datetime.now(UTC)
    parse = state.parsers.get(source.name)
    rejected: str | None = None
    parsed: Parsed | None
    # CDEvents that name no service belong to the one the sender put in the URL; it is kept
    # with the raw event so `headway reprocess` derives the event the same way
    service = (request.query_params.get("service") or None) if source.name == "cdevents" else None
    if parse is None:
        parsed = Parsed.ignore(f"no {source.name} adapter is installed")
    else:
        mapping = state.mapping
        if service:
            mapping = dataclasses.replace(mapping, default_service=service)
        try:
            parsed = deliveries.interpret(
                source.name, kind, payload, mapping, received, settings.webhook_max_skew_s, parse
            )
        except PayloadError as error:
            parsed, rejected = None, str(error)
    raw = deliveries.raw_event(
        source.name, delivery_id, kind, body, received, parsed, rejected, service
    )
    outcome, note = await state.writer.deliver(Delivery(raw, parsed or Parsed()))
    prometheus.DELIVERIES.labels(source.name, outcome).inc()
    return settled(delivery_id, outcome, note, parsed, rejected)


def settled(
    delivery_id: str, outcome: str, note: str | None, parsed: Parsed | None, rejected: str | None
) -> Response:
    """The answer to a delivery the writer has settled: 422 naming why it was rejected, 202
    when ignored, else 200 with the records it produced (none unless accepted)."""
    if rejected is not None and outcome == "rejected":
        return JSONResponse({"error": rejected, "delivery": delivery_id}, status_code=422)
    records = len(parsed.records) + len(parsed.commits) if parsed and outcome == "accepted" else 0
    return _answer(delivery_id, outcome, records, note, 202 if outcome == "ignored" else 200)


def duplicate(delivery_id: str) -> Response:
    """The answer to a delivery already stored: nothing written again."""
    return _answer(delivery_id, "duplicate", 0)


def _answer(
    delivery: str, outcome: str, records: int, note: str | None = None, status: int = 200
) -> Response:
    """A DeliveryResult; built by hand because this is the hot path of a burst."""
    body = {"delivery": delivery, "outcome": outcome, "records": records, "note": note}
    return Response(orjson.dumps(body), status_code=status, media_type="application/json")


def _endpoint(source: Source) -> Callable[[Request], Any]:
    async def receive(request: Request) -> Response:
        started = time.perf_counter()
        try:
            return await _receive(request, source)
        except Refused as refused:
            prometheus.DELIVERIES.labels(source.name, f"refused_{refused.status}").inc()
            return JSONResponse({"error": refused.message}, status_code=refused.status)
        except StoreError as error:
            # Not stored: the sender keeps the delivery and sends it again (its id makes the
            # retry count once). The fast path below bypasses the app's error handlers.
            prometheus.DELIVERIES.labels(source.name, "refused_503").inc()
            retry = error.retry_after if isinstance(error, StoreUnavailable) else 1
            return JSONResponse(
                {"error": str(error)}, status_code=503, headers={"Retry-After": str(retry)}
            )
        finally:
            prometheus.LATENCY.labels(source.name).observe(time.perf_counter() - started)

    receive.__name__ = f"hook_{source.name}"
    receive.__doc__ = (
        f"Receive a {source.name} webhook delivery. Answered after it is committed; "
        "a redelivery of the same delivery id changes nothing."
    )
    return receive


_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {"model": DeliveryResult, "description": "Stored (or a duplicate of a stored delivery)."},
    202: {"model": DeliveryResult, "description": "Kept raw; Headway does not use this event."},
    400: {"description": "Malformed JSON or missing event type / delivery id."},
    401: {"description": "Missing or wrong signature or token."},
    403: {"description": "No secret configured for this source."},
    413: {"description": "Body over HEADWAY_WEBHOOK_MAX_BYTES."},
    415: {"description": "Not JSON."},
    422: {"description": "Valid JSON but not a usable event (field named); kept raw as rejected."},
    503: {
        "description": "The store cannot be reached: nothing was stored; retry after Retry-After."
    },
}

for _source in SOURCES.values():
    router.add_api_route(
        f"/{_source.name}",
        _endpoint(_source),
        methods=["POST"],
        summary=f"{_source.name} webhook",
        responses=_RESPONSES,
        response_model=None,
    )


class FastPath:
    """ASGI wrapper that hands `POST /hooks/<source>` straight to its handler.

    The handlers are the same ones the FastAPI routes call (and OpenAPI documents); this only
    skips route matching and dependency resolution across every other resource, which in a
    webhook burst cost more than the delivery itself. Everything else goes to the app.
    """

    def __init__(self, app: FastAPI) -> None:
        self.app = app
        self.state = app.state
        self._handlers = {f"/hooks/{name}": _endpoint(source) for name, source in SOURCES.items()}

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http" and scope["method"] == "POST":
            handler = self._handlers.get(scope["path"])
            if handler is not None:
                scope["app"] = self.app

                async def deliver(scope: Any, receive: Any, send: Any) -> None:
                    response = await handler(Request(scope, receive))
                    await response(scope, receive, send)

                # Deliveries skip the app's middleware, not its access log.
                logged = AccessLog(deliver) if self.state.settings.access_log else deliver
                await logged(scope, receive, send)
                return
        await self.app(scope, receive, send)
