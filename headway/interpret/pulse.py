"""The developer confidence pulse: three questions answered 1 to 5, per team and month.

An answer is anonymous: it is stored as its team, its month and its three scores, nothing
else (docs/decisions.md, "The developer confidence pulse"). `answer` validates and stores
one; `results` reads the answers back as, per team and month, how many there were and the
mean of each question, and hides the scores of a month with fewer than `MIN_ANSWERS`, so no
person's answer can be read back from a team's numbers.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from headway.metrics.queries import scope as scope_queries
from headway.metrics.scope import Period, Scope, services_in
from headway.query import QueryError
from headway.store import Store
from headway.store import pulse as statements

__all__ = [
    "HIGHEST",
    "KEYS",
    "LOWEST",
    "MIN_ANSWERS",
    "QUESTIONS",
    "TOO_FEW",
    "PulseError",
    "Question",
    "answer",
    "check_team",
    "month_of",
    "months_between",
    "parse_scores",
    "results",
    "summarise",
    "teams",
]

LOWEST, HIGHEST = 1, 5
#: Fewer answers than this in a team's month and its scores are not shown (anonymity).
MIN_ANSWERS = 3
TOO_FEW = f"too few answers (fewer than {MIN_ANSWERS} this month): scores are not shown"


@dataclass(frozen=True)
class Question:
    key: str
    text: str


QUESTIONS = (
    Question(
        "ship_safely",
        "I can ship a small change to users safely without a senior engineer watching.",
    ),
    Question(
        "recover_quickly",
        "When something breaks in production, we find out and recover quickly.",
    ),
    Question("release_process", "Our release process gets out of my way."),
)
KEYS = tuple(q.key for q in QUESTIONS)


class PulseError(QueryError):
    """A pulse answer or request that cannot be taken: the message names the field."""

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


def parse_scores(given: Mapping[str, object]) -> dict[str, int]:
    """The three scores of a form or document, each a whole number from 1 to 5; a missing or
    bad one is a `PulseError` naming it (the first of them, in the questions' order)."""
    scores: dict[str, int] = {}
    for question in QUESTIONS:
        value = given.get(question.key)
        if value is None or (isinstance(value, str) and not value.strip()):
            raise PulseError(
                f"{question.key} is missing: answer {question.text!r} from {LOWEST} "
                f"(disagree) to {HIGHEST} (agree)",
                question.key,
            )
        score = _whole(value)
        if score is None or not LOWEST <= score <= HIGHEST:
            shown = str(value)[:20]
            raise PulseError(
                f"{question.key} is {shown!r}: give a whole number from {LOWEST} to {HIGHEST}",
                question.key,
            )
        scores[question.key] = score
    return scores


def _whole(value: object) -> int | None:
    """A whole number given as one (not a boolean) or as ASCII digits; otherwise None."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and re.fullmatch(r"[0-9]{1,3}", value.strip()):
        return int(value.strip())
    return None


def month_of(at: datetime) -> str:
    """The month an answer given at `at` counts for, YYYY-MM (all that is kept of its time)."""
    return f"{at:%Y-%m}"


def teams(store: Store) -> list[str]:
    """Every team some service belongs to, by name."""
    return sorted({team for _, team, _ in scope_queries.known(store) if team})


def check_team(store: Store, team: str) -> str:
    """`team`, when some service belongs to it; otherwise an error listing the teams."""
    services_in(store, Scope("team", team))  # an unknown team: an error naming the known ones
    return team


def answer(store: Store, team: str, scores: Mapping[str, object], at: datetime) -> dict[str, Any]:
    """Validate and keep one anonymous answer for `team`, counted in the month of `at`."""
    kept = parse_scores(scores)
    check_team(store, team)
    month = month_of(at)
    statements.insert_answer(store, id=uuid.uuid4().hex, team=team, month=month, scores=kept)
    return {"team": team, "month": month}


def summarise(row: Mapping[str, Any]) -> dict[str, Any]:
    """One team's month from its count and sums: the mean of each question and of all three
    (`overall`), rounded to two decimals, or only `reason` when the answers are too few."""
    n = int(row["answers"])
    if n < MIN_ANSWERS:
        return {
            "month": row["month"],
            "answers": None,
            "means": None,
            "overall": None,
            "reason": TOO_FEW,
        }
    means = {key: round(row[key] / n, 2) for key in KEYS}
    overall = round(sum(row[key] for key in KEYS) / (n * len(KEYS)), 2)
    return {"month": row["month"], "answers": n, "means": means, "overall": overall, "reason": None}


def months_between(first: str, last: str) -> list[str]:
    """Every month from `first` to `last` (YYYY-MM), both included."""
    year, month = int(first[:4]), int(first[5:7])
    out = []
    while f"{year:04d}-{month:02d}" <= last:
        out.append(f"{year:04d}-{month:02d}")
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return out


def results(
    store: Store,
    team: str | None = None,
    period: Period | None = None,
    *,
    include: Iterable[str] = (),
) -> dict[str, Any]:
    """Per team (one, or every team with answers and those of `include`), each month from its
    first answer to its last (or each month of `period`) with its count and means: the trend
    over months. A month without enough answers, none included, shows only why (`TOO_FEW`)."""
    if team is not None:
        check_team(store, team)
    rows = statements.sums(store, [team] if team is not None else None)
    by_team: dict[str, dict[str, dict[str, Any]]] = {}
    for row in rows:
        by_team.setdefault(row["team"], {})[row["month"]] = row
    for name in [team] if team is not None else include:
        by_team.setdefault(name, {})
    wanted = (
        months_between(month_of(period.since), month_of(period.until - timedelta(days=1)))
        if period is not None
        else None
    )
    out = []
    for name, months in sorted(by_team.items()):
        shown = wanted or (months_between(min(months), max(months)) if months else [])
        empty = {"answers": 0, **dict.fromkeys(KEYS, 0)}
        out.append(
            {
                "team": name,
                "months": [summarise(months.get(m, {**empty, "month": m})) for m in shown],
            }
        )
    return {
        "questions": [{"key": q.key, "text": q.text} for q in QUESTIONS],
        "scale": {"lowest": LOWEST, "highest": HIGHEST},
        "min_answers": MIN_ANSWERS,
        "teams": out,
    }
