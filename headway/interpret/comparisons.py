"""Findings that read beyond one team's two windows: teams compared across operating contexts,
and a change of the active definition that lowers the change fail rate.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from datetime import datetime
from typing import Any

from headway import definitions as defs
from headway.definitions import Definition
from headway.interpret.evidence import Finding, measure, pct
from headway.metrics.compare import diff
from headway.metrics.scope import Period, Scope, iso
from headway.store import Store
from headway.store import definitions as stored_definitions

# A team's metric set as JSON, computed where the caller's records are.
TeamMetrics = Callable[[Definition, Scope, Period], dict[str, Any]]


def context_comparison(
    store: Store,
    defn: Definition,
    groups: dict[str, list[tuple[str, str]]],
    period: Period,
    team_metrics: TeamMetrics | None = None,
) -> Finding | None:
    """Teams set side by side whose services live in different operating contexts."""
    contexts = {team: sorted({c for _, c in members}) for team, members in groups.items()}
    distinct = sorted({c for cs in contexts.values() for c in cs})
    mixed = [t for t, cs in contexts.items() if len(cs) > 1]
    if len(distinct) < 2 or (len(groups) < 2 and not mixed):
        return None
    from headway.metrics import dora

    def on_store(d: Definition, s: Scope, p: Period) -> dict[str, Any]:
        return dora.compute(store, d, s, p).to_json()

    compute = team_metrics or on_store
    sets = {team: compute(defn, Scope("team", team), period) for team in groups}
    measures = [
        {
            "measure": f"team {team}",
            "contexts": contexts[team],
            "deployments_per_week": None
            if s["deployment_frequency"]["per_week"] is None
            else round(s["deployment_frequency"]["per_week"], 1),
            "level": s["deployment_frequency"]["level"],
            "change_fail_rate": s["change_fail_rate"]["rate"],
        }
        for team, s in sets.items()
    ]
    return Finding(
        "context",
        Scope("organisation"),
        f"{len(groups)} teams are compared across {len(distinct)} operating contexts "
        f"({', '.join(distinct)}); their levels are only comparable within one context"
        + (f"; team(s) {', '.join(mixed)} blend contexts themselves" if mixed else "")
        + ".",
        measures,
        [],
        "high",
        "contexts are recorded on each service",
        extra={"contexts": contexts},
    )


def definition_changes(
    store: Store, scope: Scope, current: Period, since: datetime
) -> list[Finding]:
    """A change of the active definition after `since` that lowers the change fail rate."""
    rows = stored_definitions.changes(store)
    out = []
    for before, after in itertools.pairwise(rows):
        if not since <= after[4] < current.until:
            continue
        da = defs._from_row(before[0], before[1], before[2])
        db = defs._from_row(after[0], after[1], after[2])
        result = diff(store, da, db, scope, current)
        ja, jb = (
            result["results"]["a"]["change_fail_rate"],
            result["results"]["b"]["change_fail_rate"],
        )
        if ja["rate"] is None or jb["rate"] is None or jb["rate"] >= ja["rate"]:
            continue
        out.append(
            Finding(
                "redefined",
                scope,
                f"The definition changed from {da.label} to {db.label} on {after[4]:%Y-%m-%d} "
                f"({after[3]}: “{after[5]}”); over the same events the change fail rate moves from "
                f"{pct(ja['rate'])} to {pct(jb['rate'])}.",
                [
                    measure("change fail rate, same events", ja["rate"], jb["rate"], "rate"),
                    *(
                        {"measure": f"rule {r['rule']}", "before": r["a"], "after": r["b"]}
                        for r in result["rules"]
                    ),
                ],
                [],
                "high",
                "recomputed over identical events under both definitions",
                extra={
                    "definition_change": {
                        "from": da.label,
                        "to": db.label,
                        "at": iso(after[4]),
                        "author": after[3],
                        "reason": after[5],
                    }
                },
            )
        )
    return out
