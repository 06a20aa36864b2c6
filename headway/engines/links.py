"""The links between records as Ibis expressions: which deployment shipped each change, which
one each rollback or hotfix repairs, and which one each incident is blamed on.

The store computes these links when records arrive and keeps them in columns
(`store/linking.py`, over the walk of `store/timeline.py`); an engine reads them from there.
A Parquet export from elsewhere may lack them, or hold them empty: then `linked` gives the
tables with the three links computed by the same rules, so every figure reads links it can
trust. `HEADWAY_ENGINE_LINKS` chooses (docs/engines.md):

- `stored` reads the stored links; a table without its link column is refused.
- `computed` always computes them.
- `auto` (the default) reads them, but computes them over a Parquet export whose `changes`
  or `deployments` lack the link column or leave it empty in every part, as the files'
  footers tell (no data is read to decide).

The rules are the store's, tie for tie: linking uses the configured production environments
(HEADWAY_PRODUCTION_ENVIRONMENTS) and the incident window (HEADWAY_INCIDENT_WINDOW_HOURS),
not a definition's. What a record names wins, even a deployment the tables do not hold (the
link is then empty, not guessed); a table without the column that names (`deployment_ref`,
`recovers`, `cause_ref`) names nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import timedelta
from pathlib import Path

import ibis
import ibis.expr.types as ir
import pyarrow.parquet as pq

from headway.engines.layout import TABLES
from headway.engines.relations import MICROS, Tables, micros_between, nearest
from headway.store.linking import SHIPPING_KINDS

# The columns each table's links are kept in, in the store and its export.
LINK_COLUMNS = {
    "changes": ("deployment_id",),
    "deployments": ("recovers_id",),
    "incidents": ("deployment_id", "attribution"),
}
# `auto` looks at these: the links every figure reads (an incident's stored link is read by
# none of them, docs/decisions.md).
_DECIDING = {"changes": "deployment_id", "deployments": "recovers_id"}
_EPOCH = ibis.timestamp("1970-01-01 00:00:00")


def _good(d: ir.Table, envs: Sequence[str]) -> ir.BooleanValue:
    """A successful deployment to one of the production environments."""
    return (d.status == "success") & d.environment.isin(list(envs))


def _epoch(t: ir.TimestampValue) -> ir.FloatingValue:
    """Seconds since 1970 as a double, as the store's `epoch` gives them: the exact
    microseconds divided once, so the double is the same on every engine."""
    micros = micros_between(_EPOCH, t).cast("float64")
    return micros / ibis.literal(float(MICROS), "float64")


def shipped_by(t: Tables, envs: Sequence[str]) -> ir.Table:
    """Per change (link_id): the deployment that shipped it (deployment_id). The one it
    names, if stored; else, for a change naming none, the first shipping deployment
    (a deploy or hotfix, successful, to production) of its service that started (else
    finished) at or after the merge."""
    c, d = t.changes, t.deployments
    shipping = d.filter(_good(d, envs), d.kind.isin(list(SHIPPING_KINDS)))
    merged = c.filter(c.merged_at.notnull(), _names(c, "deployment_ref").isnull())
    found = nearest(
        merged.select(id=merged.id, service=merged.service, t=merged.merged_at),
        shipping.select(
            id=shipping.id,
            service=shipping.service,
            t=ibis.coalesce(shipping.started_at, shipping.finished_at),
        ),
        after=True,
    )
    rows = c.select(link_id=c.id, ref=_names(c, "deployment_ref"))
    return _chosen(rows, t, found, "deployment_id")


def repaired_by(t: Tables, envs: Sequence[str]) -> ir.Table:
    """Per deployment (link_id): the deployment it repairs (recovers_id). The one it names,
    if stored; else, for a successful production rollback or hotfix naming none, the
    service's last successful production deployment that was not a rollback and finished
    before it (at least a microsecond before: one finished at the same instant is not
    earlier)."""
    d = t.deployments
    repairs = d.filter(
        _good(d, envs), d.kind.isin(["rollback", "hotfix"]), _names(d, "recovers").isnull()
    ).select(id=d.id, service=d.service, t=d.finished_at - ibis.interval(microseconds=1))
    earlier = d.filter(_good(d, envs), d.kind != "rollback")
    found = nearest(
        repairs, earlier.select(id=earlier.id, service=earlier.service, t=earlier.finished_at)
    )
    return _chosen(d.select(link_id=d.id, ref=_names(d, "recovers")), t, found, "recovers_id")


def blamed_on(t: Tables, envs: Sequence[str], window_hours: float) -> ir.Table:
    """Per incident (link_id): the deployment it is blamed on (deployment_id) and by which
    rule (attribution). The one it names, if stored (`named`); else, for an incident naming
    none, the service's latest successful production deployment that finished at or before
    it opened and at most `window_hours` before (`window`); else none (`none`)."""
    i, d = t.incidents, t.deployments
    opened = i.filter(_names(i, "cause_ref").isnull())
    good = d.filter(_good(d, envs))
    walk = nearest(
        opened.select(id=opened.id, service=opened.service, t=opened.opened_at),
        good.select(id=good.id, service=good.service, t=good.finished_at),
    )
    window = ibis.literal(timedelta(hours=window_hours).total_seconds(), "float64")
    within = walk.filter(_epoch(walk.event_t) - _epoch(walk.dep_t) <= window)
    chosen = _chosen(i.select(link_id=i.id, ref=_names(i, "cause_ref")), t, within, "deployment_id")
    attribution = ibis.cases(
        (chosen.named.notnull(), "named"),
        (chosen.ref.isnull() & chosen.deployment_id.notnull(), "window"),
        else_="none",
    )
    return chosen.mutate(attribution=attribution)


def _names(table: ir.Table, column: str) -> ir.StringValue:
    """The deployment each row names: `column`, or none where the table has no such column
    (an export from elsewhere that keeps no names)."""
    return table[column] if column in table.columns else ibis.null("string")


def _chosen(rows: ir.Table, t: Tables, found: ir.Table, column: str) -> ir.Table:
    """`rows` (link_id, ref) with the link: the stored deployment `ref` names when it names
    one (none when that is not stored), else the one the walk `found`. Columns: link_id, ref,
    named, and the link as `column`."""
    named = t.deployments.select(named=t.deployments.id)
    found = found.select(f_event=found.event_id, f_dep=found.deployment_id)
    j = rows.left_join(named, rows.ref == named.named).left_join(
        found, rows.link_id == found.f_event
    )
    link = ibis.cases((j.ref.notnull(), j.named), else_=j.f_dep)
    return j.select(link_id=j.link_id, ref=j.ref, named=j.named, **{column: link})


def linked(
    t: Tables,
    envs: Sequence[str],
    window_hours: float,
    keep: Callable[[ir.Table], ir.Table] | None = None,
) -> Tables:
    """The tables with every link computed: `changes.deployment_id`, `deployments.recovers_id`,
    `incidents.deployment_id` and `incidents.attribution` replaced (or added, for an export
    without them), every other column as it was. `keep`, given, turns each table of links
    (an id and its link) into one computed once (`Table.cache`), so that every figure joins
    them instead of walking the timelines again."""
    computed = {
        "changes": shipped_by(t, envs),
        "deployments": repaired_by(t, envs),
        "incidents": blamed_on(t, envs, window_hours),
    }
    tables = {name: getattr(t, name) for name in TABLES}
    for name, links in computed.items():
        columns = LINK_COLUMNS[name]
        links = links.select("link_id", *(links[c].name(f"new_{c}") for c in columns))
        tables[name] = _replaced(tables[name], keep(links) if keep else links, columns)
    return Tables.of(tables, t.keep)


def _replaced(table: ir.Table, links: ir.Table, columns: tuple[str, ...]) -> ir.Table:
    """`table` with `columns` taken from `links` (link_id, new_<column>…), in their place."""
    j = table.left_join(links, table.id == links.link_id)
    names = list(table.columns) + [c for c in columns if c not in table.columns]
    return j.select(*(j[f"new_{n}"].name(n) if n in columns else j[n] for n in names))


# -- which links an engine reads ---------------------------------------------------------------


def parquet_lacks_links(folder: Path) -> list[str]:
    """The tables of the export in `folder` whose link column is missing, or empty in every
    part, from the Parquet footers alone: `changes/ (no deployment_id column)`,
    `deployments/ (recovers_id empty)`. A part whose footer keeps no null count for the
    column counts as empty: its links cannot be known without reading it, and computed links
    are never wrong, only slower."""
    lacking = []
    for table, column in _DECIDING.items():
        states = {
            _column_state(part, column) for part in sorted((folder / table).glob("*.parquet"))
        }
        if "missing" in states:
            lacking.append(f"{table}/ (no {column} column)")
        elif "empty" in states and "filled" not in states:
            lacking.append(f"{table}/ ({column} empty)")
    return lacking


def _column_state(part: Path, column: str) -> str:
    """`missing`; `filled` (a value somewhere); `empty` (every value null, or a row group
    without a null count to tell); `no rows` (a part without rows says nothing)."""
    meta = pq.ParquetFile(part).metadata
    paths = [meta.schema.column(j).path for j in range(meta.num_columns)]
    if column not in paths:
        return "missing"
    if meta.num_rows == 0:
        return "no rows"
    j = paths.index(column)
    for g in range(meta.num_row_groups):
        group = meta.row_group(g)
        stats = group.column(j).statistics
        if stats is not None and stats.has_null_count and stats.null_count < group.num_rows:
            return "filled"
    return "empty"


def stored_lacking(t: Tables) -> list[str]:
    """The link columns `t` does not have, as `table.column`."""
    return [
        f"{name}.{column}"
        for name, columns in LINK_COLUMNS.items()
        for column in columns
        if column not in getattr(t, name).columns
    ]
