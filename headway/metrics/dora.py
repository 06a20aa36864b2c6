"""The five DORA metrics for a scope and period, under a definition.

`dora_queries` runs the queries; this module turns their rows into a `MetricSet`, with levels
(`bands`) and a trend. `Scope`, `Period` and their errors live in `scope`; they are exported
here too because the CLI's modules import them from here.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from headway.definitions import Definition
from headway.metrics import bands, profile, release
from headway.metrics.dora_queries import aggregate, aggregate_shapes, empty, latest_deployments
from headway.metrics.queries.dora import Shape
from headway.metrics.scope import (
    Period,
    Scope,
    ScopeError,
    UnknownScope,
    bucket_starts,
    default_period,
    iso,
    next_start,
    no_deployments_note,
    scope_keys,
    services_in,
)
from headway.metrics.weeks import median, spine, weekly_deploy_days
from headway.store import Store

__all__ = [
    "MetricSet",
    "Period",
    "Scope",
    "ScopeError",
    "UnknownScope",
    "assemble",
    "compute",
    "compute_each",
    "compute_with_each",
    "default_period",
    "figures",
    "median",
    "say_when_empty",
    "services_in",
    "spine",
    "warn_when_blended",
    "weekly_deploy_days",
]


@dataclass
class MetricSet:
    """The five metrics for one scope and period: the JSON contract of `headway metrics`."""

    definition: Definition
    scope: Scope
    period: Period
    services: list[str]
    contexts: list[str]
    year: str
    deployment_frequency: dict[str, Any]
    change_lead_time: dict[str, Any]
    change_fail_rate: dict[str, Any]
    failed_deployment_recovery_time: dict[str, Any]
    deployment_rework_rate: dict[str, Any]
    warnings: list[str] = field(default_factory=list)
    trend: list[MetricSet] = field(default_factory=list)
    release_lead_time: dict[str, Any] | None = None

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "definition": {"name": self.definition.name, "version": self.definition.version},
            "scope": {
                "kind": self.scope.kind,
                "name": self.scope.name,
                "services": self.services,
                "contexts": self.contexts,
            },
            "period": {
                "since": iso(self.period.since),
                "until": iso(self.period.until),
                "days": round(self.period.days, 6),
            },
            "levels": {
                "year": self.year,
                "source": bands.SOURCES[self.year],
                "note": bands.NO_LEVELS_NOTE if self.year == "2025" else None,
            },
            "factors": {name: list(metrics) for name, metrics in bands.FACTORS.items()},
            "deployment_frequency": self.deployment_frequency,
            "change_lead_time": self.change_lead_time,
            "change_fail_rate": self.change_fail_rate,
            "failed_deployment_recovery_time": self.failed_deployment_recovery_time,
            "deployment_rework_rate": self.deployment_rework_rate,
        }
        if self.release_lead_time is not None:
            out["release_lead_time"] = self.release_lead_time
        out["profile"] = profile.place(out)
        out["warnings"] = self.warnings
        if self.trend:
            out["trend"] = [t.to_json() for t in self.trend]
        return out


def compute(
    store: Store,
    defn: Definition,
    scope: Scope,
    period: Period,
    *,
    year: str = "2024",
    by: str | None = None,
) -> MetricSet:
    """The five metrics for one scope, optionally with a weekly or monthly trend."""
    return compute_with_each(store, defn, scope, period, None, year=year, by=by)[0]


def compute_with_each(
    store: Store,
    defn: Definition,
    scope: Scope,
    period: Period,
    kind: str | None,
    *,
    year: str = "2024",
    by: str | None = None,
) -> tuple[MetricSet, list[MetricSet]]:
    """`compute` for a scope and `compute_each(kind, within=scope)` (none without `kind`),
    each metric query run once for the scope, its trend and the scopes below it."""
    services = services_in(store, scope)
    names = [s for s, _ in services]
    shapes: list[Shape] = [(None, "organisation")]
    shapes += [(by, "organisation")] if by else []
    shapes += [(None, kind)] if kind else []
    found = aggregate_shapes(store, defn, names, period, tuple(shapes))
    result = found[(None, "organisation")].get(None) or empty(period)
    metric_set = _metric_set(defn, scope, period, services, year, result)
    leads = {"organisation": result["lead"]}
    released = release.release_figures(store, defn, names, period, "organisation", leads)
    metric_set.release_lead_time = released.get("organisation") or release.empty_figure()
    _say_when_empty(store, defn, [metric_set])
    warn_when_blended(metric_set)
    if by:
        buckets = found[(by, "organisation")]
        for start in bucket_starts(period, by):
            sub = Period(max(start, period.since), min(next_start(start, by), period.until))
            metric_set.trend.append(
                _metric_set(defn, scope, sub, services, year, buckets.get(start) or empty(sub))
            )
    each = _each(store, defn, kind, period, year, services, found[(None, kind)]) if kind else []
    return metric_set, each


def compute_each(
    store: Store,
    defn: Definition,
    kind: str,
    period: Period,
    *,
    year: str = "2024",
    within: Scope | None = None,
) -> list[MetricSet]:
    """One MetricSet per service, team or context, computed in one pass per metric."""
    services = services_in(store, within or Scope())
    grouped = aggregate(store, defn, [s for s, _ in services], period, None, year, group=kind)
    return _each(store, defn, kind, period, year, services, grouped)


def _each(
    store: Store,
    defn: Definition,
    kind: str,
    period: Period,
    year: str,
    services: list[tuple[str, str]],
    grouped: dict[Any, dict[str, Any]],
) -> list[MetricSet]:
    """One MetricSet per `kind` key of `services`, from their rows (`grouped`)."""
    names = [s for s, _ in services]
    key_of = scope_keys(store, kind, names)
    leads = {key: grouped[(key, None)]["lead"] for key in {k for k, _ in grouped}}
    released = release.release_figures(store, defn, names, period, kind, leads)
    out = []
    for key in sorted(set(key_of.values())):
        members = [(s, c) for s, c in services if key_of[s] == key]
        raw = grouped.get((key, None)) or empty(period)
        out.append(_metric_set(defn, Scope(kind, key), period, members, year, raw))
        out[-1].release_lead_time = released.get(key) or release.empty_figure()
    _say_when_empty(store, defn, out)
    return out


def _say_when_empty(store: Store, defn: Definition, sets: list[MetricSet]) -> None:
    say_when_empty(sets, lambda services: latest_deployments(store, defn, services))


def say_when_empty(
    sets: list[MetricSet], latest_of: Callable[[list[str]], dict[str, datetime]]
) -> None:
    """A scope with no deployments in its period says so first, naming its latest one (from
    `latest_of`, each service's latest counted deployment) and the window that shows it, so
    an empty window is never read as a team that stopped."""
    bare = [m for m in sets if not m.deployment_frequency["deployments"]]
    if not bare:
        return
    latest = latest_of(sorted({s for m in bare for s in m.services}))
    for m in bare:
        last = max((latest[s] for s in m.services if s in latest), default=None)
        m.warnings.insert(0, no_deployments_note(m.scope, m.period, last))


def warn_when_blended(metric_set: MetricSet) -> None:
    """A figure over services of several operating contexts says so, and how to compare."""
    contexts = metric_set.contexts
    if len(contexts) > 1:
        metric_set.warnings.append(
            f"This figure blends services of {len(contexts)} operating contexts "
            f"({', '.join(contexts)}). Compare within one context (--context NAME) or see "
            "each side by side (--each context)."
        )


def _metric_set(
    defn: Definition,
    scope: Scope,
    period: Period,
    services: list[tuple[str, str]],
    year: str,
    r: dict[str, Any],
) -> MetricSet:
    return assemble(defn, scope, period, services, year, figures(defn, period, r, year))


def assemble(
    defn: Definition,
    scope: Scope,
    period: Period,
    services: list[tuple[str, str]],
    year: str,
    figs: dict[str, Any],
) -> MetricSet:
    """A metric set from its five rendered figures (`figures`), for this module and the
    engines alike; the figures' own notes become warnings."""
    metric_set = MetricSet(
        definition=defn,
        scope=scope,
        period=period,
        services=[s for s, _ in services],
        contexts=sorted({c for _, c in services}),
        year=year,
        **figs,
    )
    # The table shows warnings; a figure that left records out says so there too.
    for figure in (metric_set.change_lead_time, metric_set.failed_deployment_recovery_time):
        metric_set.warnings.extend(figure["notes"])
    return metric_set


def figures(defn: Definition, period: Period, r: dict[str, Any], year: str) -> dict[str, Any]:
    """The five figures of one scope and period (or bucket) from its raw numbers (`r`, as
    `dora_queries.aggregate` gathers them): rounded, levelled, and null with the reason where
    no record is behind them. The other engines (`engines.run`) render theirs with it too."""
    deployments, deploy_days = r["deployments"], r["deploy_days"]
    week_median = (
        weekly_deploy_days(defn, period, r["days"])
        if r["days"] is not None and deployments
        else None
    )
    per_day = deployments / period.days if period.days > 0 and deployments else None
    failed, rework = r["failed"], r["rework"]
    cfr = failed / deployments if deployments else None
    lead, rec = r["lead"], r["recovery"]
    # Missing is not zero: a figure with no records behind it is null with the reason, and a
    # level needs MIN_DEPLOYMENTS counted deployments (bands.too_few says so otherwise).
    none = None if deployments else "no counted deployments in the period"
    too_few = bands.too_few(deployments, year)

    def rated(level: str | None) -> str | None:
        return None if too_few else level

    return {
        "deployment_frequency": {
            "deployments": deployments,
            "days": round(period.days, 6),
            "per_day": _round(per_day),
            "per_week": _round(None if per_day is None else per_day * 7),
            "deploy_days": deploy_days,
            "deploy_days_per_week_median": week_median,
            "level": rated(bands.deployment_frequency(per_day, year)),
            "reason": none,
            "level_reason": too_few,
        },
        "change_lead_time": {
            "changes": lead["n"],
            **_stats(lead),
            "level": rated(bands.lead_time(lead["median_s"], year)),
            "reason": None if lead["n"] else _no_lead(deployments, lead["negative"]),
            "level_reason": too_few,
            **_left_out(lead["negative"], "change", "lead time"),
        },
        "change_fail_rate": {
            "deployments": deployments,
            "failed": failed,
            "rate": _round(cfr),
            "level": rated(bands.change_fail_rate(cfr, year)),
            "reason": none,
            "level_reason": too_few,
        },
        "failed_deployment_recovery_time": {
            "recoveries": rec["n"],
            "unrecovered": r["unrecovered"],
            **_stats(rec),
            "level": rated(bands.recovery_time(rec["median_s"], year)),
            "reason": None if rec["n"] else _no_recovery(defn, failed, r["unrecovered"], rec),
            "level_reason": too_few,
            **_left_out(rec["negative"], "recovery", "recovery time"),
        },
        "deployment_rework_rate": {
            "deployments": deployments,
            "rework": rework,
            "rate": _round(rework / deployments if deployments else None),
            "reason": none,
        },
    }


def _no_lead(deployments: int, negative: int) -> str:
    if negative:
        return f"every shipped change's lead time ran backwards ({negative} left out)"
    if not deployments:
        return "no counted deployments in the period, so no change shipped"
    return "no change shipped by the period's counted deployments"


def _no_recovery(defn: Definition, failed: int, unrecovered: int, rec: dict[str, Any]) -> str:
    if rec["negative"]:
        return f"every recovery ran backwards ({rec['negative']} left out)"
    if defn.recovery.start in ("incident_opened", "incident_opened_or_cause"):
        return "no incident opened in the period was resolved"
    if not failed:
        return "no failed deployment in the period, so nothing to recover from"
    return f"{unrecovered} failed deployment{'' if unrecovered == 1 else 's'}, none recovered yet"


def _left_out(n: int, unit: str, label: str) -> dict[str, Any]:
    """How many spans ran backwards and were left out of a duration, and the note saying so."""
    units = unit if n == 1 else f"{unit[:-1]}ies" if unit.endswith("y") else f"{unit}s"
    verb = "was" if n == 1 else "were"
    note = f"{n} {units} had a negative {label} (end before start) and {verb} left out"
    return {"negative": n, "notes": [note] if n else []}


def _stats(row: dict[str, Any]) -> dict[str, float | None]:
    return {k: _round(row[k], 3) for k in ("median_s", "p75_s", "p90_s", "mean_s")}


def _round(value: Any, digits: int = 6) -> float | None:
    return None if value is None else round(float(value), digits)
