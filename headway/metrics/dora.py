"""The five DORA metrics for a scope and period, under a definition.

Three queries do the work, each grouped by scope key and time bucket in the database:
deployments (frequency, change fail rate, rework), changes (lead time) and recoveries.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from headway.definitions import Definition
from headway.metrics import bands
from headway.metrics import sql as q
from headway.names import UnknownName
from headway.store import Store
from headway.values import EARLIEST, LATEST

SCOPE_KINDS = ("service", "team", "context", "organisation")


class ScopeError(ValueError):
    pass


class UnknownScope(ScopeError, UnknownName):
    """A service, team or context name the store does not know."""


@dataclass(frozen=True)
class Scope:
    kind: str = "organisation"
    name: str | None = None

    def describe(self) -> str:
        return (
            "the whole organisation" if self.kind == "organisation" else f"{self.kind} {self.name}"
        )


@dataclass(frozen=True)
class Period:
    since: datetime
    until: datetime  # exclusive

    @property
    def days(self) -> float:
        return (self.until - self.since).total_seconds() / 86400.0


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
                "since": _iso(self.period.since),
                "until": _iso(self.period.until),
                "days": round(self.period.days, 6),
            },
            "levels": {
                "year": self.year,
                "note": bands.NO_LEVELS_NOTE if self.year == "2025" else None,
            },
            "deployment_frequency": self.deployment_frequency,
            "change_lead_time": self.change_lead_time,
            "change_fail_rate": self.change_fail_rate,
            "failed_deployment_recovery_time": self.failed_deployment_recovery_time,
            "deployment_rework_rate": self.deployment_rework_rate,
            "warnings": self.warnings,
        }
        if self.trend:
            out["trend"] = [t.to_json() for t in self.trend]
        return out


def _iso(value: datetime) -> str:
    return value.replace(tzinfo=UTC).isoformat().replace("+00:00", "Z")


def services_in(store: Store, scope: Scope) -> list[tuple[str, str]]:
    """(service, context) pairs in a scope; an unknown name is an UnknownScope error."""
    if scope.kind not in SCOPE_KINDS:
        raise ScopeError(f"unknown scope kind {scope.kind!r}; use one of {', '.join(SCOPE_KINDS)}")
    known = store.query(
        "SELECT name, COALESCE(team, '(no team)'), context FROM services "
        "UNION SELECT DISTINCT service, '(no team)', '(no context)' FROM deployments "
        "WHERE service NOT IN (SELECT name FROM services) ORDER BY 1"
    )
    if scope.kind == "organisation":
        return [(n, c) for n, _, c in known]
    column = {"service": 0, "team": 1, "context": 2}[scope.kind]
    chosen = [(r[0], r[2]) for r in known if r[column] == scope.name]
    if not chosen:
        raise UnknownScope(
            f"no {scope.kind} named {scope.name!r}",
            f"`headway metrics --each {scope.kind}` (GET /api/metrics?each={scope.kind}) "
            f"shows every {scope.kind} with data",
            f"known {scope.kind}s",
            {r[column] for r in known},
        )
    return chosen


def default_period(store: Store, days: int = 90) -> Period:
    """The `days` days up to the end of the day of the latest deployment (or today).

    Only deployments no writer would refuse count (1970 to 2100): one planted in year 9999
    would otherwise put every default period past the calendar."""
    latest = store.query(
        "SELECT MAX(finished_at) FROM deployments WHERE finished_at >= ? AND finished_at < ?",
        [EARLIEST.replace(tzinfo=None), LATEST.replace(tzinfo=None)],
    )[0][0]
    end = latest or datetime.now(UTC).replace(tzinfo=None)
    until = datetime(end.year, end.month, end.day) + timedelta(days=1)
    return Period(until - timedelta(days=days), until)


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
    services = services_in(store, scope)
    overall = _compute(store, defn, [s for s, _ in services], period, None, year)
    result = overall.get(None) or _empty(period)
    contexts = sorted({c for _, c in services})
    metric_set = _metric_set(defn, scope, period, services, contexts, year, result)
    if len(contexts) > 1:
        metric_set.warnings.append(
            f"This figure blends services of {len(contexts)} operating contexts "
            f"({', '.join(contexts)}). Compare within one context (--context NAME) or see "
            "each side by side (--each context)."
        )
    if by:
        buckets = _compute(store, defn, [s for s, _ in services], period, by, year)
        for start in _bucket_starts(period, by):
            sub = Period(max(start, period.since), min(_next(start, by), period.until))
            metric_set.trend.append(
                _metric_set(
                    defn, scope, sub, services, contexts, year, buckets.get(start) or _empty(sub)
                )
            )
    return metric_set


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
    names = [s for s, _ in services]
    key_of = _scope_keys(store, kind, names)
    grouped = _compute(store, defn, names, period, None, year, group=kind)
    out = []
    for key in sorted(set(key_of.values())):
        members = [(s, c) for s, c in services if key_of[s] == key]
        contexts = sorted({c for _, c in members})
        out.append(
            _metric_set(
                defn,
                Scope(kind, key),
                period,
                members,
                contexts,
                year,
                grouped.get((key, None)) or _empty(period),
            )
        )
    return out


def _scope_keys(store: Store, kind: str, names: list[str]) -> dict[str, str]:
    rows = {
        r[0]: r
        for r in store.query("SELECT name, COALESCE(team, '(no team)'), context FROM services")
    }
    index = {"service": 0, "team": 1, "context": 2}[kind]
    return {
        n: (
            rows[n][index]
            if n in rows
            else ("(no team)" if kind == "team" else n if kind == "service" else "(no context)")
        )
        for n in names
    }


def _metric_set(
    defn: Definition,
    scope: Scope,
    period: Period,
    services: list[tuple[str, str]],
    contexts: list[str],
    year: str,
    r: dict[str, Any],
) -> MetricSet:
    deployments, deploy_days = r["deployments"], r["deploy_days"]
    week_median = weekly_deploy_days(defn, period, r["days"]) if r["days"] is not None else None
    per_day = deployments / period.days if period.days > 0 else 0.0
    failed, rework = r["failed"], r["rework"]
    cfr = failed / deployments if deployments else None
    lead, rec = r["lead"], r["recovery"]
    metric_set = MetricSet(
        definition=defn,
        scope=scope,
        period=period,
        services=[s for s, _ in services],
        contexts=contexts,
        year=year,
        deployment_frequency={
            "deployments": deployments,
            "days": round(period.days, 6),
            "per_day": round(per_day, 6),
            "per_week": round(per_day * 7, 6),
            "deploy_days": deploy_days,
            "deploy_days_per_week_median": week_median,
            "level": bands.deployment_frequency(per_day if deployments else None, year),
        },
        change_lead_time={
            "changes": lead["n"],
            **_stats(lead),
            "level": bands.lead_time(lead["median_s"], year),
            **_left_out(lead["negative"], "change", "lead time"),
        },
        change_fail_rate={
            "deployments": deployments,
            "failed": failed,
            "rate": _round(cfr),
            "level": bands.change_fail_rate(cfr, year),
        },
        failed_deployment_recovery_time={
            "recoveries": rec["n"],
            "unrecovered": r["unrecovered"],
            **_stats(rec),
            "level": bands.recovery_time(rec["median_s"], year),
            **_left_out(rec["negative"], "recovery", "recovery time"),
        },
        deployment_rework_rate={
            "deployments": deployments,
            "rework": rework,
            "rate": _round(rework / deployments if deployments else None),
        },
    )
    # The table shows warnings; a figure that left records out says so there too.
    for figure in (metric_set.change_lead_time, metric_set.failed_deployment_recovery_time):
        metric_set.warnings.extend(figure["notes"])
    return metric_set


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


_NO_DURATIONS = {
    "n": 0,
    "median_s": None,
    "p75_s": None,
    "p90_s": None,
    "mean_s": None,
    "negative": 0,
}


def _empty(_: Period) -> dict[str, Any]:
    return {
        "deployments": 0,
        "deploy_days": 0,
        "failed": 0,
        "rework": 0,
        "unrecovered": 0,
        "days": None,
        "lead": dict(_NO_DURATIONS),
        "recovery": dict(_NO_DURATIONS),
    }


def _compute(
    store: Store,
    defn: Definition,
    services: list[str],
    period: Period,
    by: str | None,
    year: str,
    group: str = "organisation",
) -> dict[Any, dict[str, Any]]:
    """Run the three metric queries; results keyed by bucket start (or (group, None))."""
    if not services:
        return {}
    key = q.GROUP_KEYS[group]
    marks = ", ".join("?" for _ in services)
    scope = f"AND d.service IN ({marks})"
    args: list[Any] = [period.since, period.until, *services]
    window = q.in_window(defn, "d.finished_at")
    counted = q.counted_deployments(defn)
    # One pass over deployments gives frequency, failures, rework and (for the usual
    # failed-deployment → first-fix rule) the recovery durations, which are NULL, and so
    # ignored by the aggregates, for deployments that did not fail.
    inline_recovery = (
        defn.recovery.start == "failed_deployment" and defn.recovery.end == "first_fix"
    )
    recovery_x, recovery_neg = (
        (
            q.span(defn, defn.recovery.rounding, "d.finished_at", "f.first_fix"),
            q.negatives(defn, "d.finished_at", "f.first_fix"),
        )
        if inline_recovery
        else ("CAST(NULL AS DOUBLE PRECISION)", "0")
    )
    dep_rows = store.query(
        f"""
        WITH fail AS ({q.failures(defn)}), rw AS ({q.rework()})
        SELECT grp, bkt, COUNT(*), COUNT(DISTINCT day), SUM(failed), SUM(unrecovered), SUM(rework),
               {q.durations(defn)}, SUM(neg)
        FROM (
            SELECT {key} AS grp, {q.bucket(by, "d.finished_at")} AS bkt,
                   CAST(d.finished_at AS DATE) AS day,
                   CASE WHEN f.deployment_id IS NOT NULL THEN 1 ELSE 0 END AS failed,
                   CASE WHEN f.deployment_id IS NOT NULL AND f.first_fix IS NULL THEN 1 ELSE 0 END
                       AS unrecovered,
                   CASE WHEN rw.id IS NOT NULL THEN 1 ELSE 0 END AS rework,
                   {recovery_x} AS x, {recovery_neg} AS neg
            FROM deployments d LEFT JOIN services s ON s.name = d.service
            LEFT JOIN fail f ON f.deployment_id = d.id
            LEFT JOIN (SELECT DISTINCT id FROM rw) rw ON rw.id = d.id
            WHERE {counted} AND {window} {scope}
        ) t GROUP BY grp, bkt
        """,
        args,
    )
    lead_rows = store.query(
        f"""
        SELECT grp, bkt, {q.durations(defn)}, SUM(neg) FROM (
            SELECT {key} AS grp, {q.bucket(by, "d.finished_at")} AS bkt,
                   {q.lead_time(defn)} AS x,
                   {q.lead_negative(defn)} AS neg
            FROM changes c JOIN deployments d ON d.id = c.deployment_id
            LEFT JOIN services s ON s.name = d.service
            WHERE {counted} AND {q.ships(defn)} AND {q.lead_changes(defn)}
              AND {window} {scope}
        ) t GROUP BY grp, bkt
        """,
        args,
    )
    if inline_recovery:
        rec_rows = [(r[0], r[1], *r[7:]) for r in dep_rows]
    else:
        rec_rows = store.query(_recovery_sql(defn, key, by, counted, window, scope), args)

    out: dict[Any, dict[str, Any]] = {}

    def slot(grp: Any, bkt: Any) -> dict[str, Any]:
        k = bkt if group == "organisation" else (grp, bkt)
        return out.setdefault(k, _empty(period))

    for grp, bkt, deployments, days, failed, unrecovered, rework, *_ in dep_rows:
        s = slot(grp, bkt)
        s.update(
            deployments=int(deployments),
            deploy_days=int(days),
            failed=int(failed or 0),
            unrecovered=int(unrecovered or 0),
            rework=int(rework or 0),
        )
    if by is None:
        # every deployment day near the period; `weekly_deploy_days` keeps its own days
        near = [*_a_day_around(period), *services]
        for grp, day in store.query(
            f"""SELECT DISTINCT {key}, CAST(d.finished_at AS DATE) FROM deployments d
            LEFT JOIN services s ON s.name = d.service
            WHERE {counted} AND d.finished_at >= ? AND d.finished_at < ? {scope}""",
            near,
        ):
            days = slot(grp, None)
            days["days"] = [*(days["days"] or []), day]
        for value in out.values():
            value["days"] = value["days"] or []
    for name, rows in (("lead", lead_rows), ("recovery", rec_rows)):
        for grp, bkt, n, median, p75, p90, mean, negative in rows:
            slot(grp, bkt)[name] = {
                "n": int(n),
                "median_s": median,
                "p75_s": p75,
                "p90_s": p90,
                "mean_s": mean,
                "negative": int(negative or 0),
            }
    return out


def _recovery_sql(
    defn: Definition, key: str, by: str | None, counted: str, window: str, scope: str
) -> str:
    rec = defn.recovery
    if rec.start in ("incident_opened", "incident_opened_or_cause"):
        attributed = "AND d.deployment_id IS NOT NULL" if rec.incidents == "attributed" else ""
        start = (
            "CASE WHEN d.cause_t < d.opened_at THEN d.cause_t ELSE d.opened_at END"
            if rec.start == "incident_opened_or_cause"
            else "d.opened_at"
        )
        return f"""
        SELECT grp, bkt, {q.durations(defn)}, SUM(neg) FROM (
            SELECT {key} AS grp, {q.bucket(by, "d.opened_at")} AS bkt,
                   {q.span(defn, rec.rounding, start, "d.resolved_at")} AS x,
                   {q.negatives(defn, start, "d.resolved_at")} AS neg
            FROM ({q.attributed(defn)}) d LEFT JOIN services s ON s.name = d.service
            WHERE d.resolved_at IS NOT NULL {attributed}
              AND {q.in_window(defn, "d.opened_at")} {scope}
        ) t GROUP BY grp, bkt
        """
    # failed deployment → each attributed incident's resolution (the first-fix rule is
    # computed in the deployments pass)
    fixes = (
        f"SELECT i.deployment_id, i.resolved_at AS fixed_at FROM ({q.attributed(defn)}) i "
        "WHERE i.deployment_id IS NOT NULL AND i.resolved_at IS NOT NULL"
    )
    return f"""
        SELECT grp, bkt, {q.durations(defn)}, SUM(neg) FROM (
            SELECT {key} AS grp, {q.bucket(by, "d.finished_at")} AS bkt,
                   {q.span(defn, rec.rounding, "d.finished_at", "f.fixed_at")} AS x,
                   {q.negatives(defn, "d.finished_at", "f.fixed_at")} AS neg
            FROM deployments d JOIN ({fixes}) f ON f.deployment_id = d.id
            LEFT JOIN services s ON s.name = d.service
            WHERE {counted} AND {window} {scope}
        ) t GROUP BY grp, bkt
    """


def spine(defn: Definition, period: Period) -> list[date]:
    """The days whose weeks the deployment-days median counts. `period`: each calendar day
    the period touches. `back_from_end` is DevLake's dashboard: the date of the period's end
    and each day before it while that instant is later than the start (so a period starting
    at midnight loses its first day and gains the end's date)."""
    if defn.frequency.days == "back_from_end":
        out, k = [], 0
        while period.until - timedelta(days=k) > period.since and k < 400:
            out.append((period.until - timedelta(days=k)).date())
            k += 1
        return sorted(out)
    first, last = period.since.date(), (period.until - timedelta(microseconds=1)).date()
    return [first + timedelta(days=i) for i in range((last - first).days + 1)]


def weekly_deploy_days(defn: Definition, period: Period, days: list[date]) -> float | None:
    """The median number of days with a deployment per Monday-started week of the spine
    (DevLake's "median number of deployment days per week"), in the definition's median."""
    if defn.frequency.days == "back_from_end":
        spine_days = spine(defn, period)
        if not spine_days:
            return None
        first, last = spine_days[0], spine_days[-1]
        inside = set(spine_days)
    else:
        # Counted, not listed: a period may span centuries (`--since 0001-01-01`).
        first, last = period.since.date(), (period.until - timedelta(microseconds=1)).date()
        inside = None
    weeks = (_monday(last) - _monday(first)).days // 7 + 1
    deployed: dict[date, int] = {}
    for day in set(days):
        if first <= day <= last and (inside is None or day in inside):
            deployed[_monday(day)] = deployed.get(_monday(day), 0) + 1
    counts = [0.0] * (weeks - len(deployed)) + [float(c) for c in deployed.values()]
    return median(defn, counts)


def _monday(day: date) -> date:
    return day - timedelta(days=day.weekday())


def _a_day_around(period: Period) -> tuple[datetime, datetime]:
    """The period widened by a day each side, within what a datetime can hold."""
    day = timedelta(days=1)
    try:
        since = period.since - day
    except OverflowError:
        since = period.since
    try:
        until = period.until + day
    except OverflowError:
        until = period.until
    return since, until


def median(defn: Definition, values: list[float]) -> float | None:
    """The median of `values` as the definition takes it: interpolated, the lower one (the
    element at index ⌊(n−1)/2⌋, DevLake's percent_rank ≤ 0.5), or the mean."""
    if not values:
        return None
    ordered = sorted(values)
    n = len(ordered)
    if defn.summary.median == "lower":
        return ordered[(n - 1) // 2]
    if defn.summary.median == "mean":
        return sum(ordered) / n
    mid = (n - 1) / 2
    low = ordered[int(mid)]
    high = ordered[min(int(mid) + 1, n - 1)]
    return low + (high - low) * (mid - int(mid))


def _bucket_starts(period: Period, by: str) -> list[datetime]:
    start = _truncate(period.since, by)
    out = []
    while start < period.until:
        out.append(start)
        start = _next(start, by)
    return out


def _truncate(value: datetime, by: str) -> datetime:
    day = datetime(value.year, value.month, value.day)
    if by == "week":
        return day - timedelta(days=day.weekday())
    if by == "month":
        return datetime(value.year, value.month, 1)
    raise ScopeError(f"--by must be week or month, not {by!r}")


def _next(start: datetime, by: str) -> datetime:
    if by == "week":
        return start + timedelta(days=7)
    return datetime(start.year + start.month // 12, start.month % 12 + 1, 1)
