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
    row = [
        uuid.uuid4().hex,
        scope_key(scope),
        period.since,
        period.until,
        kind,
        text.strip(),
        author,
        datetime.now(UTC).replace(tzinfo=None, microsecond=0),
    ]
    with store.transaction():
        store.execute(
            "INSERT INTO annotations (id, scope, period_start, period_end, kind, text, "
            "author, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            row,
        )
        audit.append(
            store,
            actor=author,
            entity="note",
            entity_id=str(row[0]),
            action="create",
            before=None,
            after={
                "scope": row[1],
                "period": [period.since.isoformat(), period.until.isoformat()],
                "kind": kind,
                "text": row[5],
            },
            at=datetime.now(UTC),
        )
    return _json(
        dict(
            zip(
                (
                    "id",
                    "scope",
                    "period_start",
                    "period_end",
                    "kind",
                    "text",
                    "author",
                    "created_at",
                ),
                row,
                strict=True,
            )
        )
    )


def for_scope(store: Store, scope: Scope, period: Period) -> list[dict[str, Any]]:
    """Notes that overlap the period, on the scope, on what it contains, or organisation-wide
    (for the organisation itself: every note)."""
    if scope.kind == "organisation":  # everything explains part of the organisation's numbers
        rows = store.query_dicts(
            "SELECT id, scope, period_start, period_end, kind, text, author, created_at "
            "FROM annotations WHERE period_start < ? AND period_end > ? "
            "ORDER BY period_start, created_at, id",
            [period.until, period.since],
        )
        return [_json(r) for r in rows]
    keys = {"organisation", scope_key(scope)}
    if scope.kind in ("team", "context"):
        keys |= {f"service:{s}" for s, _ in services_in(store, scope)}
    if scope.kind == "service":
        teams = store.query("SELECT team, context FROM services WHERE name = ?", [scope.name])
        for team, context in teams:
            keys |= {f"team:{team}", f"context:{context}"}
    marks = ", ".join("?" for _ in keys)
    rows = store.query_dicts(
        f"SELECT id, scope, period_start, period_end, kind, text, author, created_at FROM annotations "
        f"WHERE scope IN ({marks}) AND period_start < ? AND period_end > ? "
        f"ORDER BY period_start, created_at, id",
        [*sorted(keys), period.until, period.since],
    )
    return [_json(r) for r in rows]


def _json(row: dict[str, Any]) -> dict[str, Any]:
    return {**row, **{k: iso(row[k]) for k in ("period_start", "period_end", "created_at")}}
