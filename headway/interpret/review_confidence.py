"""The review's "Developer confidence" section: per team, what its people said in the month's
pulse (the mean of each question, and the trend of their overall mean over the review's
months) beside what the delivery evidence says of the same month: how often the team
deployed, and how its rollouts ended (completed or abandoned).

The pulse is what people feel, the rest is what the system did; the section puts them side
by side so a review can ask why they disagree (docs/review.md, "Developer confidence").
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from headway.definitions import Definition
from headway.interpret import pulse
from headway.metrics import dora, rollout_rates
from headway.metrics.scope import Period, Scope
from headway.store import Store

__all__ = ["section"]


def section(
    store: Store,
    defn: Definition,
    scope: Scope,
    period: Period,
    history_since: datetime,
    *,
    year: str = "2024",
) -> dict[str, Any]:
    """The section for the teams of `scope` in `period` (a month), with the pulse's trend
    from `history_since`."""
    per_team = dora.compute_each(store, defn, "team", period, year=year, within=scope)
    teams = [m for m in per_team if m.scope.name]
    names = [str(m.scope.name) for m in teams]
    answers = pulse.results(store, period=Period(history_since, period.until), include=names)
    months = {t["team"]: t["months"] for t in answers["teams"]}
    rollouts = rollout_rates.by_team(store, period)
    out = []
    for metrics in teams:
        team = str(metrics.scope.name)
        trend = months[team]
        frequency = metrics.deployment_frequency
        out.append(
            {
                "team": team,
                "pulse": trend[-1],
                "trend": [{"month": m["month"], "overall": m["overall"]} for m in trend],
                "change": _change(trend),
                "deployments": frequency["deployments"],
                "deployments_per_week": frequency["per_week"],
                "rollouts": rollouts.get(team) or rollout_rates.rates({}),
            }
        )
    return {
        "questions": answers["questions"],
        "min_answers": answers["min_answers"],
        "teams": out,
    }


def _change(trend: list[dict[str, Any]]) -> float | None:
    """The overall mean's change from the latest earlier month with enough answers to this
    month; None when either has too few."""
    now: float | None = trend[-1]["overall"]
    before: float | None = next(
        (m["overall"] for m in reversed(trend[:-1]) if m["overall"] is not None), None
    )
    if now is None or before is None:
        return None
    return round(now - before, 2)
