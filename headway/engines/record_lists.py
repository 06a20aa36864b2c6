"""The records lists behind the figures as Ibis expressions: deployments, changes and
incidents of a scope and period, filtered, searched, sorted and paged on the engine, row for
row and column for column as `metrics.queries.records` gives them from the store.

A list (`listed`) is one expression per kind; `refined` applies the filter and a case-blind
search; `paged` orders it (rows without the sorted value last either way, ties in the list's
own order of time then id, so every engine pages alike) and cuts one page; `counted` is the
length of the whole refined list.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

import ibis
import ibis.expr.types as ir

from headway.definitions import Definition
from headway.engines import relations as r
from headway.metrics.refine import SEARCHED, SORTS, Refinement

__all__ = ["ONLY", "OWN_ORDER", "counted", "listed", "paged", "refined"]

# What each filter of `refine.FILTERS` keeps, on the columns of its list.
ONLY: dict[str, dict[str, Callable[[ir.Table], ir.BooleanValue]]] = {
    "deployments": {
        "failed": lambda x: x.has_failure == 1,
        "recovered": lambda x: x.first_fix.notnull(),
        "rework": lambda x: x.rework,
    },
    "changes": {
        "shipped": lambda x: x.lead_time_s.notnull(),
        "unshipped": lambda x: x.deployment_id.isnull(),
        "revert": lambda x: x.is_revert,
    },
    "incidents": {
        "attributed": lambda x: x.deployment_id.notnull(),
        "unattributed": lambda x: x.deployment_id.isnull(),
    },
}
# Each list's own order: its time column, then the id, which no two rows share.
OWN_ORDER = {
    "deployments": ("finished_at", "id"),
    "changes": ("merged_at", "id"),
    "incidents": ("opened_at", "id"),
}


_DEPLOYMENT = (
    "id",
    "service",
    "environment",
    "kind",
    "status",
    "version",
    "sha",
    "started_at",
    "finished_at",
    "recovers_id",
    "source",
)


def _within(value: ir.TimestampValue, since: datetime, until: datetime) -> ir.BooleanValue:
    return (value >= since) & (value < until)


def deployments(
    t: r.Tables,
    defn: Definition,
    names: list[str],
    since: datetime,
    until: datetime,
    refine: Refinement,
) -> ir.Table:
    """Counted deployments of `names` finished in [since, until): the deployment's columns,
    where it came from (its source and its service's repository), whether it is rework and,
    when the refinement reads them, whether it failed and its first fix."""
    d = t.deployments
    rows = d.filter(r.counted(defn, d), _within(d.finished_at, since, until), d.service.isin(names))
    s = t.services.select(s_name=t.services.name, s_repository=t.services.repository)
    rows = rows.left_join(s, rows.service == s.s_name)
    rework = r.rework(t)
    rows = rows.left_join(rework, rows.id == rework.rework_id)
    failures = r.failures(defn, t) if refine.needs_failures() else None
    if failures is not None:
        rows = rows.left_join(failures, rows.id == failures.failed_id)
    columns: dict[str, ir.Value] = {name: rows[name] for name in _DEPLOYMENT}
    columns["repository"] = rows.s_repository
    columns["rework"] = rows.rework_id.notnull()
    if refine.needs_failures():
        # (no failure rule: nothing failed)
        failed = rows.failed_id.notnull() if failures is not None else ibis.literal(False)
        columns["has_failure"] = ibis.cases((failed, 1), else_=0)
        columns["first_fix"] = rows.first_fix if failures is not None else ibis.null("timestamp")
    return rows.select(**columns)


def changes(
    t: r.Tables, defn: Definition, names: list[str], since: datetime, until: datetime
) -> ir.Table:
    """Changes of `names` merged in [since, until), with the deployment that shipped them
    when the definition counts it (and lets it ship), and their lead time to it."""
    c, d = t.changes, t.deployments
    good = d.filter(r.counted(defn, d))
    starts = r.shipping_starts(defn, t)
    if starts is not None:
        # a deployment ships only after its service's first counted one started
        good = good.join(starts, good.service == starts.first_service)
        good = good.filter(ibis.coalesce(good.started_at, good.finished_at) > good.first_t)
    good = good.select(dep_id=good.id, dep_finished=good.finished_at)
    rows = c.filter(_within(c.merged_at, since, until), c.service.isin(names))
    rows = rows.left_join(good, rows.deployment_id == good.dep_id)
    lead = ibis.cases(
        (rows.dep_id.isnull() | ~r.lead_changes(defn, rows), ibis.null("float64")),
        else_=r.lead_time(defn, rows, rows.dep_finished),
    )
    return rows.select(
        id=rows.id,
        service=rows.service,
        number=rows.number,
        title=rows.title,
        author=rows.author,
        first_commit_at=rows.first_commit_at,
        opened_at=rows.opened_at,
        merged_at=rows.merged_at,
        is_revert=rows.is_revert,
        reverts=rows.reverts,
        additions=rows.additions,
        deletions=rows.deletions,
        files=rows.files,
        deployment_id=rows.dep_id,
        deployed_at=rows.dep_finished,
        lead_time_s=lead,
        source=rows.source,
        repository=rows.repository,
        merge_sha=rows.merge_sha,
    )


def incidents(
    t: r.Tables, defn: Definition, names: list[str], since: datetime, until: datetime
) -> ir.Table:
    """Incidents of `names` opened in [since, until), each with the deployment `defn` blames
    it on (as the figures blame it) and how: `named`, `window` or NULL."""
    i = t.incidents
    a = r.attributed(defn, t)
    a = a.select(a_id=a.id, a_dep=a.deployment_id)
    rows = i.filter(_within(i.opened_at, since, until), i.service.isin(names))
    rows = rows.join(a, rows.id == a.a_id)
    named = (
        []
        if defn.attribution.rule == "latest_before"
        else [(rows.a_dep == rows.cause_ref, ibis.literal("named"))]
    )
    attribution = ibis.cases(
        (rows.a_dep.isnull(), ibis.null("string")), *named, else_=ibis.literal("window")
    )
    return rows.select(
        id=rows.id,
        service=rows.service,
        title=rows.title,
        severity=rows.severity,
        opened_at=rows.opened_at,
        acknowledged_at=rows.acknowledged_at,
        resolved_at=rows.resolved_at,
        deployment_id=rows.a_dep,
        attribution=attribution,
        labels=rows.labels,
        url=rows.url,
    )


def listed(
    t: r.Tables,
    kind: str,
    defn: Definition,
    names: list[str],
    since: datetime,
    until: datetime,
    refine: Refinement,
) -> ir.Table:
    """The whole list of `kind`, unfiltered and unordered."""
    if kind == "deployments":
        return deployments(t, defn, names, since, until, refine)
    if kind == "changes":
        return changes(t, defn, names, since, until)
    return incidents(t, defn, names, since, until)


def refined(kind: str, rows: ir.Table, refine: Refinement) -> ir.Table:
    """The list's rows under the filter and a case-blind search: a field holds the searched
    text as it is (no wildcards), compared lower-cased."""
    if refine.only:
        rows = rows.filter(ONLY[kind][refine.only](rows))
    if refine.search:
        needle = refine.search.lower()
        found = [rows[f].fill_null("").lower().contains(needle) for f in SEARCHED[kind]]
        rows = rows.filter(ibis.or_(*found))
    return rows


def counted(rows: ir.Table) -> ir.Table:
    """One row, `n`: how many rows `rows` holds."""
    return rows.aggregate(n=rows.count())


def paged(
    kind: str,
    rows: ir.Table,
    refine: Refinement,
    limit: int | None,
    offset: int,
    *,
    with_length: bool = False,
) -> ir.Table:
    """`rows` in the refinement's order, one page (limit, offset) of them; `with_length`
    adds the whole list's length to each row (`listed`).

    A page past the first is cut by each row's position in the whole order, not by OFFSET:
    Spark numbers rows after an ORDER BY only if one partition holds them all."""
    if with_length:
        rows = rows.mutate(listed=rows.id.count().over(ibis.window()))
    if not offset:
        ordered = rows.order_by(_order(kind, rows, refine))
        return ordered.limit(int(limit)) if limit else ordered
    place = rows.mutate(_place=ibis.row_number().over(order_by=_order(kind, rows, refine)))
    kept = place._place >= offset
    if limit:
        kept &= place._place < offset + int(limit)
    return place.filter(kept).order_by("_place").drop("_place")


def _order(kind: str, rows: ir.Table, refine: Refinement) -> list[ir.Value]:
    """Rows without the sorted value last either way, ties in the list's own order."""
    own = [rows[name] for name in OWN_ORDER[kind]]
    if refine.sort:
        name = SORTS[kind][refine.sort]
        column = rows[name]
        # (the sorted column again among the ties would break no tie)
        ties = [rows[n] for n in OWN_ORDER[kind] if n != name]
        return [column.isnull(), column.desc() if refine.desc else column.asc(), *ties]
    if refine.desc:
        return [c.desc() for c in own]
    return list(own)
