"""Friction signals: the pressure indicators around the five metrics.

Approval latency by gate kind, batch size, lead-time variance, deployment friction, rollback
clustering, change-failure concentration, escaped-defect clustering, incident themes,
rework, and AI-assisted change compared with the rest. `signal_rows` fetches the records of
a scope and period; everything else is arithmetic over those rows, so each number can name
the records behind it. The clustering signals are in `concentration`; this module computes
the rest and assembles the document.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from headway.definitions import Definition
from headway.metrics.concentration import escaped_defects, failure_concentration, incident_themes
from headway.metrics.durations import describe, describe_spans
from headway.metrics.flow import group_members
from headway.metrics.scope import (
    Period,
    Scope,
    bucket_starts,
    iso,
    next_start,
    window_hint,
)
from headway.metrics.signal_rows import Rows, SignalSource, StoreSignals, share, shipping
from headway.metrics.stages import LEAD_BOUNDS
from headway.store import Store

MIN_GROUP = 5
TRIVIAL_LINES = 10


@dataclass(frozen=True)
class AiRule:
    """How an AI-assisted change is recognised: any label, author or title trailer matches."""

    labels: tuple[str, ...] = ("ai-assisted", "ai-generated", "copilot")
    authors: tuple[str, ...] = ("copilot", "copilot-swe-agent[bot]", "devin-ai-integration[bot]")
    trailers: tuple[str, ...] = ("co-authored-by: copilot", "assisted-by:", "generated-by:")

    def matches(self, labels: list[str], author: str | None, text: str | None) -> bool:
        if {label.lower() for label in labels} & {x.lower() for x in self.labels}:
            return True
        if author and author.lower() in {a.lower() for a in self.authors}:
            return True
        lowered = (text or "").lower()
        return any(t.lower() in lowered for t in self.trailers)

    def to_json(self) -> dict[str, list[str]]:
        return {
            "labels": list(self.labels),
            "authors": list(self.authors),
            "trailers": list(self.trailers),
        }


# -- the signals -----------------------------------------------------------------------------


def approval_latency(rows: Rows) -> dict[str, Any]:
    by_kind: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for a in rows.approvals:
        by_kind[a["kind"]].append(a)
    out = {}
    for kind, items in sorted(by_kind.items()):
        waits = [(a["requested_at"], a["decided_at"]) for a in items]
        out[kind] = {
            **describe_spans(waits, "approval wait", _ASKED, ("approval", "approvals")),
            "rejected": sum(1 for a in items if a["decision"] == "rejected"),
        }
    return out


def batch_size(rows: Rows) -> dict[str, Any]:
    ships = shipping(rows)
    empty = [d["id"] for d in ships if d["changes"] == 0]
    trivial = [d["id"] for d in ships if 0 < d["lines"] <= TRIVIAL_LINES]
    return {
        "deployments": len(ships),
        "changes_per_deployment": describe([d["changes"] for d in ships], "deployments", ""),
        "lines_per_deployment": describe([d["lines"] for d in ships], "deployments", ""),
        "empty": len(empty),
        "empty_share": share(len(empty), len(ships)),
        "trivial": len(trivial),
        "trivial_share": share(len(trivial), len(ships)),
        "trivial_lines": TRIVIAL_LINES,
        "empty_deployments": empty[:50],
    }


_ASKED = ("requested", "decided")
_RAN = ("started", "finished")


def _leads(changes: list[dict[str, Any]]) -> dict[str, Any]:
    """Lead time of `changes`, leaving out (and counting) any that ran backwards."""
    return describe_spans(
        ((c["lead_start"], c["finished_at"]) for c in changes), "lead time", LEAD_BOUNDS
    )


def lead_time_variance(rows: Rows, period: Period, by: str) -> dict[str, Any]:
    overall = _leads(rows.changes)
    trend = []
    for start in bucket_starts(period, by):
        end = next_start(start, by)
        part = _leads([c for c in rows.changes if start <= c["finished_at"] < end])
        trend.append(
            {
                "since": iso(max(start, period.since)),
                "changes": part["n"],
                "median_s": part["median_s"],
                "iqr_s": part["iqr_s"],
                "notes": part["notes"],
            }
        )
    relative = (
        overall["iqr_s"] / overall["median_s"]
        if overall["iqr_s"] is not None and overall["median_s"]
        else None
    )
    return {**overall, "iqr_over_median": _round(relative), "by": by, "trend": trend}


def deployment_friction(rows: Rows) -> dict[str, Any]:
    """Friction per deployment. A rate with no records of its kind behind it is null with the
    reason, never 0: a git import records no pipeline runs and no approvals at all."""
    deps = rows.deployments
    durations = [(d["started_at"], d["finished_at"]) for d in deps]
    runs = sum(d["runs"] for d in deps)
    runs_missing = (
        "no counted deployments in the period"
        if not deps
        else None
        if runs
        else "no pipeline runs are linked to these deployments (a git import, for one, "
        "records none): failures cannot be counted"
    )
    gates_missing = (
        "no counted deployments in the period"
        if not deps
        else None
        if rows.approvals
        else "no reviews or approvals are recorded for this scope in the period (a git "
        "import, for one, records none): gates cannot be counted"
    )
    return {
        "deployments": len(deps),
        "failed_runs_per_deployment": None
        if runs_missing
        else _round(_mean([d["failed_runs"] for d in deps])),
        "failed_runs_reason": runs_missing,
        "deployments_with_failed_runs": sum(1 for d in deps if d["failed_runs"]),
        "pipeline_runs": runs,
        "duration": describe_spans(durations, "duration", _RAN, ("deployment", "deployments")),
        "manual_gates_per_deployment": None
        if gates_missing
        else _round(_mean([d["gates"] for d in deps])),
        "manual_gates_reason": gates_missing,
        "manual_triggers": sum(1 for d in deps if (d["trig"] or "") == "manual"),
    }


def rollback_clustering(rows: Rows, window_days: float = 7.0, burst: int = 3) -> dict[str, Any]:
    """Rollbacks, and bursts: `burst` or more in one service within `window_days`."""
    rollbacks = [d for d in rows.deployments if d["kind"] == "rollback"]
    bursts = []
    by_service: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for d in rollbacks:
        by_service[d["service"]].append(d)
    for service, items in sorted(by_service.items()):
        i = 0
        while i < len(items):
            j = i
            while j + 1 < len(items) and items[j + 1]["finished_at"] - items[i][
                "finished_at"
            ] <= timedelta(days=window_days):
                j += 1
            if j - i + 1 >= burst:
                bursts.append(
                    {
                        "service": service,
                        "count": j - i + 1,
                        "since": iso(items[i]["finished_at"]),
                        "until": iso(items[j]["finished_at"]),
                        "rollbacks": [d["id"] for d in items[i : j + 1]],
                    }
                )
                i = j + 1
            else:
                i += 1
    weekly = Counter(
        (d["finished_at"] - timedelta(days=d["finished_at"].weekday())).date() for d in rollbacks
    )
    return {
        "rollbacks": len(rollbacks),
        "by_service": dict(Counter(d["service"] for d in rollbacks).most_common()),
        "busiest_week": next({"week": str(w), "rollbacks": n} for w, n in weekly.most_common(1))
        if weekly
        else None,
        "bursts": bursts,
        "burst_rule": f"{burst} or more rollbacks of one service within {window_days:g} days",
    }


def rework_trend(rows: Rows, period: Period, by: str) -> dict[str, Any]:
    trend = []
    for start in bucket_starts(period, by):
        end = next_start(start, by)
        part = [d for d in rows.deployments if start <= d["finished_at"] < end]
        rework = sum(d["rework"] for d in part)
        trend.append(
            {
                "since": iso(max(start, period.since)),
                "deployments": len(part),
                "rework": rework,
                "rate": share(rework, len(part)),
                "failed": sum(1 for d in part if d["failed"]),
            }
        )
    total = sum(d["rework"] for d in rows.deployments)
    return {
        "deployments": len(rows.deployments),
        "rework": total,
        "rate": share(total, len(rows.deployments)),
        "by": by,
        "trend": trend,
    }


def ai_assisted(rows: Rows, rule: AiRule) -> dict[str, Any]:
    groups: dict[str, list[dict[str, Any]]] = {"ai_assisted": [], "other": []}
    for c in rows.changes:
        ai = rule.matches(c["labels"], c["author"], c["title"])
        groups["ai_assisted" if ai else "other"].append(c)
    out: dict[str, Any] = {"rule": rule.to_json()}
    for name, items in groups.items():
        n = len(items)
        out[name] = {
            "changes": n,
            "lines": describe([c["lines"] for c in items], "changes", ""),
            "lead_time": _leads(items),
            "failure_rate": share(sum(c["failed"] for c in items), n) if n >= MIN_GROUP else None,
            "rework_rate": share(sum(c["reverted"] for c in items), n) if n >= MIN_GROUP else None,
            "note": None
            if n >= MIN_GROUP
            else f"rates need at least {MIN_GROUP} changes; there are {n}",
        }
    out["records"] = [c["id"] for c in groups["ai_assisted"]][:100]
    return out


def _mean(values: list[float]) -> float | None:
    return sum(values) / len(values) if values else None


def _round(value: float | None, digits: int = 4) -> float | None:
    return None if value is None else round(value, digits)


# -- the document ----------------------------------------------------------------------------


def compute(
    store: Store | None,
    defn: Definition,
    scope: Scope,
    period: Period,
    *,
    by: str = "week",
    ai: AiRule | None = None,
    members: list[tuple[str, str]] | None = None,
    source: SignalSource | None = None,
) -> dict[str, Any]:
    """Every friction signal for a scope and period: the JSON contract of `headway signals`.
    The records come from `source` (an analytics engine's), else from the store."""
    if source is None:
        if store is None:
            raise ValueError("signals need a store or a source of records")
        source = StoreSignals(store)
    services = members if members is not None else source.services(scope)
    names = [s for s, _ in services]
    contexts = sorted({c for _, c in services})
    rows = source.rows(defn, names, period)
    teams = source.teams()
    warnings = []
    if not rows.deployments and not rows.changes and not rows.incidents:
        latest = max(source.latest(defn, names).values(), default=None)
        warnings.append(
            f"no deployments, changes or incidents in {scope.describe()} between "
            f"{period.since:%Y-%m-%d} and {period.until:%Y-%m-%d}. {window_hint(latest)}"
        )
    if len(contexts) > 1:
        warnings.append(
            f"These signals blend {len(contexts)} operating contexts "
            f"({', '.join(contexts)}); see each with --each context."
        )
    latency = approval_latency(rows)
    variance = lead_time_variance(rows, period, by)
    friction = deployment_friction(rows)
    # Spans left out for running backwards are told where the table shows warnings, too
    # (describe_spans appends that note last).
    for figure in (*latency.values(), variance, friction["duration"]):
        if figure["negative"]:
            warnings.append(figure["notes"][-1])
    return {
        "definition": {"name": defn.name, "version": defn.version},
        "scope": {"kind": scope.kind, "name": scope.name, "services": names, "contexts": contexts},
        "period": {"since": iso(period.since), "until": iso(period.until)},
        "approval_latency": latency,
        "batch_size": batch_size(rows),
        "lead_time_variance": variance,
        "deployment_friction": friction,
        "rollback_clustering": rollback_clustering(rows),
        "failure_concentration": failure_concentration(rows, teams),
        "escaped_defects": escaped_defects(rows),
        "incident_themes": incident_themes(rows, period),
        "rework": rework_trend(rows, period, by),
        "ai_assisted": ai_assisted(rows, ai or AiRule()),
        "warnings": warnings,
    }


def compute_each(
    source: SignalSource,
    defn: Definition,
    scope: Scope,
    period: Period,
    *,
    by: str = "week",
    ai: AiRule | None = None,
    each: str | None = None,
) -> list[dict[str, Any]]:
    """The signals of `scope`, or with `each` of every service, team or context inside it,
    their records read from `source` (the store's `StoreSignals`, or an engine's)."""
    if not each:
        return [compute(None, defn, scope, period, by=by, ai=ai, source=source)]
    return [
        compute(None, defn, Scope(each, key), period, by=by, ai=ai, members=m, source=source)
        for key, m in group_members(source, each, scope).items()
    ]
