"""Statements of the developer confidence pulse: anonymous answers and survey links.

An answer row holds a team, a month and three scores; the sums per team and month are read
here and made into means (with the anonymity threshold) by `headway.interpret.pulse`.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, func, select

from headway.store.base import Store
from headway.store.schema import pulse_answers, pulse_links
from headway.store.statements import insert_into

__all__ = ["QUESTIONS", "insert_answer", "insert_link", "link", "sums"]

#: The answer columns, in the order of `headway.interpret.pulse.QUESTIONS` (a layer the store
#: may not import; tests/interpret/test_pulse.py keeps them equal).
QUESTIONS = ("ship_safely", "recover_quickly", "release_process")

_a = pulse_answers.c
_INSERT_ANSWER = insert_into(pulse_answers, "id", "team", "month", *QUESTIONS)
_SUMS = select(
    _a.team,
    _a.month,
    func.count().label("answers"),
    *(func.sum(_a[q]).label(q) for q in QUESTIONS),
).group_by(_a.team, _a.month)
_ORDER = (_a.team, _a.month)
_SUMS_ALL = _SUMS.order_by(*_ORDER)

_l = pulse_links.c
_INSERT_LINK = insert_into(
    pulse_links, "code_hash", "team", "created_by", "created_at", "expires_at"
)
_LINK = select(_l.team, _l.expires_at).where(_l.code_hash == bindparam("code_hash"))


def insert_answer(store: Store, *, id: str, team: str, month: str, scores: dict[str, int]) -> None:
    store.run(_INSERT_ANSWER, id=id, team=team, month=month, **scores)


def sums(store: Store, teams: list[str] | None = None) -> list[dict[str, Any]]:
    """Per team and month (YYYY-MM): how many answers, and the sum of each question's scores;
    of these teams only when given. By team, then month."""
    if teams is None:
        rows = store.dicts(_SUMS_ALL)
    else:
        # Built per call, its values in it: an IN list is written out with one parameter per
        # team, and a statement holding one is compiled with its values.
        rows = store.dicts(_SUMS.where(_a.team.in_(sorted(teams))).order_by(*_ORDER))
    return [
        {**row, "answers": int(row["answers"]), **{q: int(row[q]) for q in QUESTIONS}}
        for row in rows
    ]


def insert_link(
    store: Store,
    *,
    code_hash: str,
    team: str,
    created_by: str,
    created_at: datetime,
    expires_at: datetime,
) -> None:
    store.run(
        _INSERT_LINK,
        code_hash=code_hash,
        team=team,
        created_by=created_by,
        created_at=created_at,
        expires_at=expires_at,
    )


def link(store: Store, code_hash: str) -> tuple[str, datetime] | None:
    """The team and expiry (naive UTC) of the link whose code has this digest, or None."""
    found = store.rows(_LINK, code_hash=code_hash)
    return (found[0][0], found[0][1]) if found else None
