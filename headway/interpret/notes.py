"""Interpretation notes: what a person knows about a scope and period that the events do not.

A note is stored in `annotations` against a scope (`organisation`, `service:NAME`,
`team:NAME`, `context:NAME`) and a period, and is shown beside the numbers it explains: a
team's notes appear with the team, its services' notes with it too, and organisation-wide
notes everywhere.
"""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from headway.metrics.scope import Period, Scope, iso, services_in
from headway.query import QueryError
from headway.store import Store, audit
from headway.store import interpret as statements

KINDS = ("note", "context_change", "definition_change")


class NoteError(QueryError):
    """Bad note input: the message names the field and the fix."""


def parse_scope(text: str) -> Scope:
    if text == "organisation":
        return Scope()
    kind, _, name = text.partition(":")
    if kind not in ("service", "team", "context") or not name:
        raise NoteError(
            f"--scope {text!r} is not a scope; use organisation, service:NAME, "
            "team:NAME or context:NAME"
        )
    return Scope(kind, name)


def scope_key(scope: Scope) -> str:
    return "organisation" if scope.kind == "organisation" else f"{scope.kind}:{scope.name}"


def parse_period(text: str) -> Period:
    """`2026-10` (a month), `2026-10-05` (a day) or `2026-10-01..2026-10-15` (inclusive)."""
    try:
        if re.fullmatch(r"\d{4}-\d{2}", text):
            start = datetime.strptime(text, "%Y-%m")
            end = datetime(start.year + start.month // 12, start.month % 12 + 1, 1)
            return Period(start, end)
        if ".." in text:
            a, b = text.split("..", 1)
            start, end = datetime.fromisoformat(a), datetime.fromisoformat(b) + timedelta(days=1)
        else:
            start = datetime.fromisoformat(text)
            end = start + timedelta(days=1)
    except ValueError:
        raise NoteError(
            f"--period {text!r} is not a period; use YYYY-MM, YYYY-MM-DD or YYYY-MM-DD..YYYY-MM-DD"
        ) from None
    if end <= start:
        raise NoteError(f"--period {text!r} ends before it starts")
    return Period(start.replace(tzinfo=None), end.replace(tzinfo=None))


def add(
    store: Store, scope: Scope, period: Period, text: str, *, author: str, kind: str = "note"
) -> dict[str, Any]:
    if not text.strip():
        raise NoteError("the note is empty; say what the numbers do not show")
    if kind not in KINDS:
        raise NoteError(f"kind {kind!r} is not one of {', '.join(KINDS)}")
    if scope.kind != "organisation":
        services_in(store, scope)  # an unknown scope is an error that lists the known ones
    note: dict[str, Any] = {
        "id": uuid.uuid4().hex,
        "scope": scope_key(scope),
        "period_start": period.since,
        "period_end": period.until,
        "kind": kind,
        "text": text.strip(),
        "author": author,
        "created_at": datetime.now(UTC).replace(tzinfo=None, microsecond=0),
    }
    with store.transaction():
        statements.insert_note(store, **note)
        audit.append(
            store,
            actor=author,
            entity="note",
            entity_id=note["id"],
            action="create",
            before=None,
            after={
                "scope": note["scope"],
                "period": [period.since.isoformat(), period.until.isoformat()],
                "kind": kind,
                "text": note["text"],
            },
            at=datetime.now(UTC),
        )
    return _json(note)


def for_scope(store: Store, scope: Scope, period: Period) -> list[dict[str, Any]]:
    """Notes that overlap the period, on the scope, on what it contains, or organisation-wide
    (for the organisation itself: every note)."""
    if scope.kind == "organisation":  # everything explains part of the organisation's numbers
        return [_json(r) for r in statements.notes(store, period.since, period.until)]
    keys = {"organisation", scope_key(scope)}
    if scope.kind in ("team", "context"):
        keys |= {f"service:{s}" for s, _ in services_in(store, scope)}
    if scope.kind == "service":
        for team, context in statements.service_groups(store, scope.name):
            keys |= {f"team:{team}", f"context:{context}"}
    rows = statements.notes_on(store, keys, period.since, period.until)
    return [_json(r) for r in rows]


def _json(row: dict[str, Any]) -> dict[str, Any]:
    return {**row, **{k: iso(row[k]) for k in ("period_start", "period_end", "created_at")}}
