"""The relations the figures share, as Ibis expressions: the same rules as metrics/queries/.

Every function renders one rule of a `Definition` over the canonical tables (`Tables`), so
the figures in `dora` read like the SQL they replace. Durations are whole microseconds
between two timestamps (exact on every engine) turned into seconds, never the engines' own
epoch functions: Spark's UNIX_TIMESTAMP drops the fraction of a second.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import ibis
import ibis.expr.types as ir

from headway.definitions import Definition
from headway.engines.layout import TABLES

MICROS = 1_000_000
_ROUNDING_STEP = {"ceil_minute": 60, "trunc_minute": 60, "trunc_hour": 3600}


@dataclass(frozen=True)
class Tables:
    services: ir.Table
    deployments: ir.Table
    changes: ir.Table
    incidents: ir.Table
    approvals: ir.Table
    pipeline_runs: ir.Table
    defects: ir.Table
    # Given, the relations several figures read (the incidents' attribution, the failures)
    # are computed once and kept by the engine (`Engine.keeping`), not once per figure.
    keep: Callable[[ir.Table], ir.Table] | None = field(default=None, compare=False)
    _kept: dict[tuple[str, int], ir.Table] = field(
        default_factory=dict, compare=False, init=False, repr=False
    )

    @classmethod
    def of(
        cls, tables: dict[str, ir.Table], keep: Callable[[ir.Table], ir.Table] | None = None
    ) -> Tables:
        return cls(**{name: tables[name] for name in TABLES}, keep=keep)

    def shared(self, name: str, defn: Definition, build: Callable[[], ir.Table]) -> ir.Table:
        """`build()`, kept by the engine the first time when the tables keep relations."""
        if self.keep is None:
            return build()
        key = (name, id(defn))
        if key not in self._kept:
            self._kept[key] = self.keep(build())
        return self._kept[key]


def _null(dtype: str) -> Any:
    return ibis.null().cast(dtype)


def union_all(first: ir.Table, *rest: ir.Table, distinct: bool = False) -> ir.Table:
    """Rows of every table, their columns made nullable first: a NOT NULL column on one
    engine is nullable on another (Parquet has no NOT NULL), and Ibis unions only equal
    schemas."""
    out = nullable(first)
    for table in rest:
        out = out.union(nullable(table), distinct=distinct)
    return out


def nullable(table: ir.Table) -> ir.Table:
    schema = table.schema()
    return table.cast({name: schema[name].copy(nullable=True) for name in schema.names})


def micros_between(start: ir.TimestampValue, end: ir.TimestampValue) -> ir.IntegerValue:
    """end − start in whole microseconds."""
    return end.delta(start, unit="microsecond")


def counted(defn: Definition, d: ir.Table) -> ir.BooleanValue:
    """The deployments this definition counts (sql.counted_deployments)."""
    rules = defn.deployments
    kinds = ["deploy", "hotfix"]
    if rules.include_rollbacks:
        kinds.append("rollback")
    if rules.include_releases:
        kinds.append("release")
    condition = d.status.isin(list(rules.statuses)) & d.kind.isin(kinds)
    if "*" not in rules.environments:
        condition &= d.environment.isin(list(rules.environments))
    return condition


def in_window(defn: Definition, column: ir.TimestampValue, since: Any, until: Any) -> Any:
    """`column` inside the period; the end is included where the definition says so."""
    before = column <= until if defn.window.end == "inclusive" else column < until
    return (column >= since) & before


def span(
    defn: Definition,
    rounding: str,
    start: ir.TimestampValue,
    end: ir.TimestampValue,
    *,
    drop_zero: bool = False,
) -> ir.FloatingValue:
    """end − start in seconds under the definition's rules (sql.span): rounded first, then a
    negative span left out (NULL) or made zero, a zero one dropped where asked."""
    micros = micros_between(start, end)
    if rounding == "exact":
        x: Any = micros / MICROS
    else:
        step = _ROUNDING_STEP[rounding]
        whole = micros / (step * MICROS)
        steps = whole.ceil() if rounding == "ceil_minute" else _trunc(whole)
        x = steps.cast("float64") * float(step)
    negative = _null("float64") if defn.spans.negative == "left_out" else ibis.literal(0.0)
    zero = _null("float64") if drop_zero else ibis.literal(0.0)
    return ibis.cases(
        (start.isnull() | end.isnull(), _null("float64")),
        (x < 0, negative),
        (x == 0, zero),
        else_=x.cast("float64"),
    )


def _trunc(value: ir.FloatingValue) -> ir.IntegerValue:
    """Toward zero, as SQL's TRUNC: −0.5 minutes is zero minutes, not minus one."""
    return ibis.cases((value >= 0, value.floor()), else_=value.ceil())


def negative_span(defn: Definition, start: ir.Value, end: ir.Value) -> ir.IntegerValue:
    """1 for a span the definition leaves out because its end comes first, else 0."""
    if defn.spans.negative != "left_out":
        return ibis.literal(0)
    return ibis.cases((end < start, 1), else_=0)


def lead_start(defn: Definition, c: ir.Table) -> ir.TimestampValue:
    order = {
        "first_commit": ["first_commit_at", "opened_at", "merged_at"],
        "opened": ["opened_at", "first_commit_at", "merged_at"],
        "merged": ["merged_at"],
    }[defn.lead_time.start]
    columns = [c[name] for name in order]
    return columns[0] if len(columns) == 1 else ibis.coalesce(*columns)


def lead_time(defn: Definition, c: ir.Table, deployed: ir.TimestampValue) -> ir.FloatingValue:
    """A change's lead time in seconds (sql.lead_time), `deployed` its deployment's end."""
    rules = defn.lead_time
    if rules.measure == "span":
        return span(
            defn, rules.rounding, lead_start(defn, c), deployed, drop_zero=rules.zero == "dropped"
        )
    parts = [(c.opened_at, c.merged_at), (c.merged_at, deployed)]
    if rules.start == "first_commit":
        parts.insert(0, (c.first_commit_at, c.opened_at))
    if rules.start == "merged":
        parts = parts[1:]
    total: Any = ibis.literal(0.0)
    for a, b in parts:
        total = total + ibis.coalesce(span(defn, rules.rounding, a, b), 0.0)
    return total


def lead_negative(defn: Definition, c: ir.Table, deployed: ir.TimestampValue) -> ir.IntegerValue:
    if defn.lead_time.measure != "span":
        return ibis.literal(0)
    return negative_span(defn, lead_start(defn, c), deployed)


def lead_changes(defn: Definition, c: ir.Table) -> ir.BooleanValue:
    if defn.lead_time.changes == "pull_requests":
        return c.opened_at.notnull()
    return ibis.literal(True)


def shipping_starts(defn: Definition, t: Tables) -> ir.Table | None:
    """Under `first_deployment = ships_nothing`: per service, when its first counted
    deployment started (sql.ships). A deployment ships only if it started after that."""
    if defn.shipping.first_deployment == "ships":
        return None
    d = t.deployments
    return (
        d.filter(counted(defn, d))
        .group_by(first_service=d.service)
        .aggregate(first_t=ibis.coalesce(d.started_at, d.finished_at).min())
    )


def good_deployments(defn: Definition, d: ir.Table) -> ir.BooleanValue:
    condition = d.status == "success"
    if "*" not in defn.deployments.environments:
        condition &= d.environment.isin(list(defn.deployments.environments))
    return condition


def nearest(events: ir.Table, deployments: ir.Table, *, after: bool = False) -> ir.Table:
    """For each event (id, service, t), the deployment (id, service, t) nearest in time on one
    side, as `store/timeline.py` walks it: the latest at or before the event, or with `after`
    the first at or after it. One timeline per service, walked forwards (or backwards with
    `after`); a running count of deployments numbers the runs, and each event takes the
    deployment that heads its run. On a tie the deployment comes first: a change merged at
    the instant a deployment starts ships with it, an incident opened at the instant one
    finishes is blamed on it. Deployments of one service at one instant are one point, the
    smallest id standing for them. An event with no deployment on its side is left out.
    Columns: event_id, event_t, dep_t, deployment_id."""
    points = deployments.group_by(["service", "t"]).aggregate(dep_id=deployments.id.min())
    timeline = union_all(
        events.select(
            event_id=events.id,
            service=events.service,
            t=events.t,
            o=ibis.literal(1),
            dep_id=_null("string"),
        ),
        points.select(
            event_id=_null("string"),
            service=points.service,
            t=points.t,
            o=ibis.literal(0),
            dep_id=points.dep_id,
        ),
    )
    when = ibis.desc(timeline.t) if after else timeline.t
    walk = ibis.cumulative_window(group_by=timeline.service, order_by=[when, timeline.o])
    runs = timeline.mutate(run=timeline.dep_id.count().over(walk))
    # Within a run only its head carries a deployment: the max over the run is that one.
    head = ibis.window(group_by=[runs.service, runs.run])
    carried = runs.mutate(
        deployment_id=runs.dep_id.max().over(head),
        dep_t=ibis.cases((runs.dep_id.notnull(), runs.t), else_=ibis.null().cast(runs.t.type()))
        .max()
        .over(head),
    )
    found = carried.filter(carried.event_id.notnull() & carried.deployment_id.notnull())
    return found.select(
        event_id=found.event_id,
        event_t=found.t,
        dep_t=found.dep_t,
        deployment_id=found.deployment_id,
    )


def attributed(defn: Definition, t: Tables) -> ir.Table:
    """Every incident with the deployment the definition blames (sql.attributed): columns
    id, service, opened_at, resolved_at, deployment_id, cause_t."""
    return t.shared("attributed", defn, lambda: _attributed(defn, t))


def _attributed(defn: Definition, t: Tables) -> ir.Table:
    rules = defn.attribution
    i, d = t.incidents, t.deployments
    # (blamed_*: the incidents table has a deployment_id of its own, the stored link)
    named = i.join(d, i.cause_ref == d.id).select(
        blamed_id=i.id, blamed_dep=d.id, blamed_t=d.finished_at
    )
    blamed = named
    if rules.rule != "named":
        events = i if rules.rule == "latest_before" else i.filter(i.cause_ref.isnull())
        good = d.filter(good_deployments(defn, d))
        walk = nearest(
            events.select(id=events.id, service=events.service, t=events.opened_at),
            good.select(id=good.id, service=good.service, t=good.finished_at),
        )
        if rules.rule == "named_or_window":
            limit = round(rules.window_hours * 3600 * MICROS)
            walk = walk.filter(micros_between(walk.dep_t, walk.event_t) <= limit)
        latest = walk.select(
            blamed_id=walk.event_id, blamed_dep=walk.deployment_id, blamed_t=walk.dep_t
        )
        blamed = latest if rules.rule == "latest_before" else union_all(named, latest)
    joined = i.left_join(blamed, i.id == blamed.blamed_id)
    return joined.select(
        id=i.id,
        service=i.service,
        opened_at=i.opened_at,
        resolved_at=i.resolved_at,
        deployment_id=joined.blamed_dep,
        cause_t=joined.blamed_t,
    )


def reverted_shipments(t: Tables) -> ir.Table:
    """One row per revert that undid a change a deployment shipped without it
    (sql.reverted_shipments): revert, reverted_at, shipped, shipped_at, fix, fixed_at."""
    rv = t.changes.filter(t.changes.reverts.notnull() & t.changes.merged_at.notnull())
    rv = rv.select(revert=rv.id, reverted_at=rv.merged_at, reverts=rv.reverts, fix=rv.deployment_id)
    c = t.changes.filter(t.changes.reverts.isnull())
    c = c.select(change=c.id, shipped=c.deployment_id)
    cd = t.deployments.select(cd_id=t.deployments.id, shipped_at=t.deployments.finished_at)
    rd = t.deployments.select(rd_id=t.deployments.id, fixed_at=t.deployments.finished_at)
    joined = (
        rv.join(c, rv.reverts == c.change)
        .join(cd, c.shipped == cd.cd_id)
        .left_join(rd, rv.fix == rd.rd_id)
    )
    kept = joined.filter(joined.rd_id.isnull() | (joined.fixed_at > joined.shipped_at))
    return kept.select(
        revert=kept.revert,
        reverted_at=kept.reverted_at,
        shipped=kept.cd_id,
        shipped_at=kept.shipped_at,
        fix=kept.rd_id,
        fixed_at=kept.fixed_at,
    )


def failures(defn: Definition, t: Tables) -> ir.Table | None:
    """Per failed deployment (failed_id), its first fix (sql.failures); None when the
    definition has no failure rule, so nothing fails."""
    evidence = _evidence(defn, t, reasons=False)
    if evidence is None:
        return None
    return t.shared(
        "failures",
        defn,
        lambda: evidence.group_by("failed_id").aggregate(first_fix=evidence.fixed_at.min()),
    )


def failure_reasons(defn: Definition, t: Tables) -> ir.Table | None:
    """Per failed deployment (failed_id), the first of its reasons by name (`incident`,
    `revert`, `rollback`, …), as the store's `failures` gives it."""
    evidence = _evidence(defn, t, reasons=True)
    if evidence is None:
        return None
    return evidence.group_by("failed_id").aggregate(reason=evidence.reason.min())


def _evidence(defn: Definition, t: Tables, *, reasons: bool) -> ir.Table | None:
    """Every piece of failure evidence: failed_id, fixed_at and, asked for, its rule."""
    rules = set(defn.failure.rules)
    d = t.deployments
    parts: list[ir.Table] = []

    def add(part: ir.Table, rule: str) -> None:
        parts.append(part.mutate(reason=ibis.literal(rule)) if reasons else part)

    if "incident" in rules:
        a = attributed(defn, t)
        a = a.filter(a.deployment_id.notnull())
        add(a.select(failed_id=a.deployment_id, fixed_at=a.resolved_at), "incident")
    repairs = {
        "rollback": d.kind == "rollback",
        "hotfix": d.kind == "hotfix",
        "rollout_rollback": (d.kind == "rollback") & (d["trigger"] == "rollout"),
    }
    for rule, condition in repairs.items():
        if rule in rules:
            r = d.filter(condition & (d.status == "success") & d.recovers_id.notnull())
            add(r.select(failed_id=r.recovers_id, fixed_at=r.finished_at), rule)
    if "revert" in rules:
        rs = reverted_shipments(t)
        window = round(defn.failure.revert_window_days * 86400 * MICROS)
        rs = rs.filter(micros_between(rs.shipped_at, rs.reverted_at) <= window)
        add(rs.select(failed_id=rs.shipped, fixed_at=rs.fixed_at), "revert")
    if "failed_status" in rules:
        add(_failed_status(t), "failed_status")
    return union_all(*parts) if parts else None


def _failed_status(t: Tables) -> ir.Table:
    """A failed deployment, fixed by its service's next successful one in its environment."""
    d = t.deployments
    f = d.filter(d.status == "failure").select(
        f_id=d.id, f_service=d.service, f_env=d.environment, f_t=d.finished_at
    )
    n = d.filter(d.status == "success").select(
        n_service=d.service, n_env=d.environment, n_t=d.finished_at
    )
    joined = f.left_join(n, [f.f_service == n.n_service, f.f_env == n.n_env, n.n_t > f.f_t])
    return joined.group_by(failed_id=joined.f_id).aggregate(fixed_at=joined.n_t.min())


def rework(t: Tables) -> ir.Table:
    """Deployments that exist to repair production (sql.rework), one row each: rework_id."""
    d = t.deployments
    repairs = d.filter(d.recovers_id.notnull()).select(rework_id=d.id)
    rs = reverted_shipments(t)
    fixes = rs.filter(rs.fix.notnull()).select(rework_id=rs.fix)
    return union_all(repairs, fixes, distinct=True)
