"""What a definition means in a query: the conditions and columns each rule compiles to, as
SQLAlchemy Core over the tables of `headway.store.schema`, shared by every metric query.

A definition's values (statuses, kinds, environments, windows, quantiles) are rendered into
the SQL as literals (`lit`): they come from a validated `Definition`, never from a user's
text, and the planners of both engines see them as constants (DuckDB's quantiles must be).
Times, names and anything a user typed are bound parameters.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import (
    DOUBLE_PRECISION,
    DateTime,
    Float,
    FromClause,
    Integer,
    Select,
    String,
    and_,
    bindparam,
    case,
    cast,
    exists,
    extract,
    func,
    null,
    or_,
    select,
    true,
)
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql import sqltypes
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.elements import BindParameter, ColumnElement
from sqlalchemy.sql.visitors import InternalTraversal

from headway.definitions import Definition
from headway.store.schema import deployments

Col = ColumnElement[Any]
#: A SELECT of any columns.
Query = Select[*tuple[Any, ...]]
# The gates a change or its deployment waits for: they are approval wait, not review.
GATE_KINDS = ("change_advisory", "security", "deployment_gate")


class Constant(ColumnElement[Any]):
    """A value written into the SQL as a constant, quoted by the dialect's own literal
    rendering (a string's quotes doubled, a `%` doubled for psycopg)."""

    __visit_name__ = "headway_constant"
    _traverse_internals = [  # noqa: RUF012 (SQLAlchemy reads it from the class)
        ("value", InternalTraversal.dp_plain_obj),
        ("type", InternalTraversal.dp_type),
    ]
    inherit_cache = True

    def __init__(self, value: Any) -> None:
        self.value = value
        self.type = sqltypes.to_instance(_TYPES[type(value)])


_TYPES: dict[type, Any] = {str: String, int: Integer, float: Float}


@compiles(Constant)
def _constant(element: Constant, compiler: SQLCompiler, **kw: Any) -> str:
    return compiler.render_literal_value(element.value, element.type)


def lit(value: Any) -> Col:
    """`value` (a string or a number from a definition, never a user's text) as a constant:
    a statement holding one still compiles once, whatever values it is later run with."""
    return Constant(value)


def lits(values: Any) -> list[Col]:
    return [lit(v) for v in values]


# Statements are built once per shape (definition, number of names, grouping) and kept, so
# each store compiles each shape once; what varies per call is bound: the period as `since`
# and `until`, the scope's services as `name_0`, `name_1`, … (`named`).


def since() -> BindParameter[Any]:
    return bindparam("since", type_=DateTime)


def until() -> BindParameter[Any]:
    return bindparam("until", type_=DateTime)


def names_in(column: Col, count: int, prefix: str = "name") -> Col:
    """`column` is one of `count` values, bound as `name_0` … (values from `named`)."""
    return column.in_([bindparam(f"{prefix}_{i}") for i in range(count)])


def named(values: list[str], prefix: str = "name") -> dict[str, str]:
    """The values of `names_in`'s parameters."""
    return {f"{prefix}_{i}": value for i, value in enumerate(values)}


def epoch(column: Col) -> Col:
    """Seconds since 1970 as a double, the same number on both engines."""
    return cast(extract("epoch", column), DOUBLE_PRECISION)


def no_team(s: FromClause) -> Col:
    return func.coalesce(s.c.team, lit("(no team)"))


def group_key(group: str, d: FromClause, s: FromClause) -> Col:
    """What rows are grouped by: a deployment's (alias `d`) service, its service's (`s`)
    team or context, or the one organisation."""
    if group == "service":
        return d.c.service
    if group == "team":
        return no_team(s)
    if group == "context":
        return func.coalesce(s.c.context, lit("(no context)"))
    return lit("organisation")


def counted(defn: Definition, d: FromClause) -> Col:
    """The condition on a deployment (`d`) for this definition to count it."""
    rules = defn.deployments
    kinds = ["deploy", "hotfix"]
    if rules.include_rollbacks:
        kinds.append("rollback")
    if rules.include_releases:
        kinds.append("release")
    parts = [d.c.status.in_(lits(rules.statuses)), d.c.kind.in_(lits(kinds))]
    if "*" not in rules.environments:
        parts.append(d.c.environment.in_(lits(rules.environments)))
    return and_(*parts)


def durations(defn: Definition, x: Col) -> list[Col]:
    """count, median, p75, p90, mean of a duration column, in the definition's flavour."""
    pct = func.percentile_disc if defn.summary.median == "lower" else func.percentile_cont
    median = func.avg(x) if defn.summary.median == "mean" else pct(lit(0.5)).within_group(x)
    return [
        func.count(x),
        median,
        pct(lit(0.75)).within_group(x),
        pct(lit(0.9)).within_group(x),
        func.avg(x),
    ]


def lead_start(defn: Definition, c: FromClause) -> Col:
    """When a change's (`c`) lead time starts, falling back to the next moment it has."""
    order = {
        "first_commit": [c.c.first_commit_at, c.c.opened_at, c.c.merged_at],
        "opened": [c.c.opened_at, c.c.first_commit_at, c.c.merged_at],
        "merged": [c.c.merged_at],
    }[defn.lead_time.start]
    return func.coalesce(*order)


def bucket(by: str | None, column: Col) -> Col:
    """The start of the week or month `column` falls in; NULL without a trend."""
    if by is None:
        return cast(null(), DateTime)
    return func.date_trunc(lit(by), column)


def in_window(defn: Definition, column: Col, since: Any, until: Any) -> Col:
    """`column` inside the period. The end is exclusive unless the definition includes it, as
    DevLake's `BETWEEN` does."""
    end = column <= until if defn.window.end == "inclusive" else column < until
    return and_(column >= since, end)


def _rounded(rounding: str, x: Col) -> Col:
    if rounding == "ceil_minute":
        return func.ceil(x / lit(60.0)) * lit(60.0)
    if rounding == "trunc_minute":
        return func.trunc(x / lit(60.0)) * lit(60.0)
    if rounding == "trunc_hour":
        return func.trunc(x / lit(3600.0)) * lit(3600.0)
    return x


def span(defn: Definition, rounding: str, start: Col, end: Col, *, drop_zero: bool = False) -> Col:
    """end − start in seconds under the definition's rules: rounded first (as the peers
    round before they compare), then a negative span left out (NULL) or made zero, and a
    zero one dropped where the definition drops it. NULL when either end is unknown."""
    x = _rounded(rounding, epoch(end) - epoch(start))
    negative = null() if defn.spans.negative == "left_out" else lit(0.0)
    zero = null() if drop_zero else lit(0.0)
    return case(
        (or_(start.is_(None), end.is_(None)), null()),
        (x < lit(0), negative),
        (x == lit(0), zero),
        else_=x,
    )


def negatives(defn: Definition, start: Col, end: Col) -> Col:
    """1 for a span the definition leaves out because its end comes first, else 0 (summed
    per group, so the output can say how many were left out)."""
    if defn.spans.negative != "left_out":
        return lit(0)
    return case((end < start, lit(1)), else_=lit(0))


def lead_time(defn: Definition, c: FromClause, d: FromClause) -> Col:
    """A change's (`c`) lead time in seconds, to its deployment (`d`) finishing."""
    rules = defn.lead_time
    if rules.measure == "span":
        return span(
            defn,
            rules.rounding,
            lead_start(defn, c),
            d.c.finished_at,
            drop_zero=rules.zero == "dropped",
        )
    parts = [(c.c.opened_at, c.c.merged_at), (c.c.merged_at, d.c.finished_at)]
    if rules.start == "first_commit":
        parts.insert(0, (c.c.first_commit_at, c.c.opened_at))
    if rules.start == "merged":
        parts = parts[1:]
    # each part left out when it is unknown or negative, as DevLake's cycle time does
    total: Col | None = None
    for a, b in parts:
        part = func.coalesce(span(defn, rules.rounding, a, b), lit(0.0))
        total = part if total is None else total + part
    assert total is not None
    return total


def lead_negative(defn: Definition, c: FromClause, d: FromClause) -> Col:
    """1 for a change whose lead time the definition leaves out as negative. A lead time
    summed from parts leaves out each negative part instead, so no change is left out."""
    if defn.lead_time.measure != "span":
        return lit(0)
    return negatives(defn, lead_start(defn, c), d.c.finished_at)


def lead_changes(defn: Definition, c: FromClause) -> Col:
    """The condition on a change (`c`) for its lead time to be measured."""
    return c.c.opened_at.is_not(None) if defn.lead_time.changes == "pull_requests" else true()


def ships(defn: Definition, d: FromClause) -> Col:
    """The condition for a counted deployment (`d`) to ship the changes linked to it. Under
    `first_deployment = ships_nothing` a deployment needs an earlier counted one of its
    service: DevLake ships a change only inside a commit range, which the first lacks."""
    if defn.shipping.first_deployment == "ships":
        return true()
    p = deployments.alias("p")
    return exists(
        select(lit(1))
        .select_from(p)
        .where(
            p.c.service == d.c.service,
            counted(defn, p),
            func.coalesce(p.c.started_at, p.c.finished_at)
            < func.coalesce(d.c.started_at, d.c.finished_at),
        )
    )


def good_deployments(defn: Definition, d: FromClause) -> Col:
    """Deployments an incident can be blamed on: successful, in the definition's
    environments, of any kind."""
    parts = [d.c.status == lit("success")]
    if "*" not in defn.deployments.environments:
        parts.append(d.c.environment.in_(lits(defn.deployments.environments)))
    return and_(*parts)


__all__ = [
    "GATE_KINDS",
    "Col",
    "Constant",
    "Query",
    "bucket",
    "counted",
    "durations",
    "epoch",
    "good_deployments",
    "group_key",
    "in_window",
    "lead_changes",
    "lead_negative",
    "lead_start",
    "lead_time",
    "lit",
    "lits",
    "named",
    "names_in",
    "negatives",
    "no_team",
    "ships",
    "since",
    "span",
    "until",
]
