"""The statements `headway.linking` runs: where a write moved, the bounds of a bounded re-link,
and the three updates that store the links (over the timeline walk, `store/timeline.py`).

Which rows a re-link reads (`_Scope`): every row of some services, or, for each service a
webhook batch touched, the rows whose links can depend on something at or after an instant.
The bounded services are one small table in the statement (`_bounds`: a row per service,
each value a parameter once), which each part of it reads through EXISTS; an unknown bound
is -infinity. So a statement depends only on how many services it holds, and is built for a
few numbers (lists filled up to the next): a webhook batch compiles nothing once a batch of
about as many services was linked before.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache
from typing import Any

from sqlalchemy import (
    CTE,
    BindParameter,
    ColumnElement,
    DateTime,
    FromClause,
    Interval,
    Select,
    Text,
    Update,
    and_,
    any_,
    bindparam,
    case,
    cast,
    exists,
    func,
    literal_column,
    null,
    or_,
    select,
    true,
    union_all,
    update,
)
from sqlalchemy.dialects.postgresql import ARRAY

from headway.store.base import Store
from headway.store.lists import one_of
from headway.store.schema import changes, deployments, incidents
from headway.store.timeline import epoch, nearest

# Kinds of deployment that put code in front of users (a flag release ships no commits,
# a rollback ships old ones).
SHIPPING_KINDS = ("deploy", "hotfix")


def shipped_at(t: FromClause) -> ColumnElement[datetime]:
    """When a deployment shipped: when it started, else when it finished."""
    return func.coalesce(t.c.started_at, t.c.finished_at)


# -- where a write moved ----------------------------------------------------------------------

# The columns that place a record on its service's timeline: a write that moves none of them
# before an instant leaves every inferred link that ends before that instant as it was.
TIMES = {
    "changes": ("merged_at",),
    "deployments": ("started_at", "finished_at"),
    "incidents": ("opened_at",),
}
_TABLES = {"changes": changes, "deployments": deployments, "incidents": incidents}


def _places() -> Select[Any]:
    """One statement for the three tables: the rows of each whose id is in its array
    parameter (named after the table), by service, with the earliest of their `TIMES`
    (deployments have two; the other tables' second column is NULL)."""
    parts = []
    for table, times in TIMES.items():
        t = _TABLES[table]
        ids = cast(bindparam(table), ARRAY(Text))
        earliest = [func.min(t.c[c]) for c in times] + [cast(null(), DateTime)] * (2 - len(times))
        parts.append(
            select(t.c.service, *earliest).where(t.c.id == any_(ids)).group_by(t.c.service)
        )
    return union_all(*parts)  # type: ignore[return-value]


_PLACES = _places()


def places(store: Store, ids: Mapping[str, Iterable[str]]) -> list[tuple[Any, ...]]:
    """The services of the rows with these ids (by table, a table of `TIMES`), each with the
    earliest of their `TIMES` (two columns, the second NULL but for deployments); one
    statement, a service once per table whose rows it holds."""
    given = {table: sorted(set(ids.get(table, ()))) for table in TIMES}
    return store.rows(_PLACES, **given)


# -- which rows a re-link reads --------------------------------------------------------------

# "After everything" for a service whose written records carry no time.
END = datetime(9999, 1, 1)


@dataclass(frozen=True, slots=True)
class Bound:
    """One service a webhook batch touched: `since`, the earliest instant it moved there;
    `shipped`, its last shipping deployment before (`cuts`); `repaired`, the last deployment
    a repair could repair before it."""

    service: str | None  # (None: a scope that only fills a statement's places)
    since: datetime | None
    shipped: datetime | None
    repaired: datetime | None


@dataclass(frozen=True, slots=True)
class Relink:
    """What one re-link reads: every row of the services `whole` names (`("all",)`, or
    `("in" | "not in", names)`, or None for none), and the rows `bounds` bound."""

    whole: tuple[str, tuple[str, ...]] | None
    bounds: tuple[Bound, ...]


# The earliest instant: a bound not known (None) is no bound, `x > COALESCE(NULL, -infinity)`
# holding for every time stored, as no bound at all would.
_NEVER = cast(literal_column("'-infinity'"), DateTime)


_TIMES = ("since", "shipped", "repaired", "back")


def _bounds(n: int, times: tuple[str, ...] = _TIMES) -> CTE:
    """The bounded scopes as rows (service, since, shipped, repaired, back, or the `times`
    named), `n` of them: a row filled in has no service, and `service = NULL` holds for no
    row. Each value is a parameter once, however many parts of a statement read it."""
    rows = [
        select(
            cast(bindparam(f"s{i}"), Text).label("service"),
            *(cast(bindparam(f"{name}{i}"), DateTime).label(name) for name in times),
        )
        for i in range(n)
    ]
    return (rows[0] if n == 1 else union_all(*rows)).cte("bounds")


class _Scope:
    """The conditions the scopes put on the rows a part of a statement reads, by part: each
    takes the table (or its alias) the part reads. A row is read when a scope holds for it:
    the whole one (services `w0`, `w1` … ) or a bounded one (a row of `bounds`)."""

    def __init__(self, whole: tuple[str, int] | None, bounds: CTE | None):
        self.whole, self.bounds = whole, bounds

    def __call__(self, part: str, t: FromClause) -> ColumnElement[bool]:
        either: list[ColumnElement[bool]] = []
        if self.whole is not None:
            kind, n = self.whole
            names: list[BindParameter[str]] = [bindparam(f"w{i}") for i in range(n)]
            if kind == "all":
                either.append(true())
            else:
                either.append(t.c.service.in_(names) if kind == "in" else t.c.service.not_in(names))
        if self.bounds is not None:
            b = self.bounds
            either.append(exists().where(b.c.service == t.c.service, self._bounded(part, t, b)))
        return or_(*either)

    @staticmethod
    def _bounded(part: str, t: FromClause, b: CTE) -> ColumnElement[bool]:
        """A change merged at or before `shipped` (the service's last shipping deployment
        before `since`) ships at or before it, so only later changes and deployments count.
        A repair finished before `since` repairs a deployment finished before it; one after
        it needs the timeline from `repaired` (the last deployment it could repair before
        `since`). An incident opened after `since` looks back one window at most (`back`, a
        second more, for rounding). Rows still without a link are taken whatever their time:
        the deployment a row names can arrive later, and a change can be written beside the
        batch's records (one a push gives back from a pull request it was folded into)."""
        shipped = func.coalesce(b.c.shipped, _NEVER)
        if part == "shipping":
            return shipped_at(t) > shipped
        if part in ("merged", "changes"):
            merged = t.c.merged_at > shipped
            if part == "merged":
                return merged
            return or_(merged, t.c.merged_at.is_(None), t.c.deployment_id.is_(None))
        if part == "repairs":
            return t.c.finished_at >= b.c.since
        if part == "earlier":
            return t.c.finished_at >= func.coalesce(b.c.repaired, _NEVER)
        if part == "deployments":
            unlinked = and_(t.c.recovers.is_not(None), t.c.recovers_id.is_(None))
            return or_(t.c.finished_at >= b.c.since, unlinked)
        if part == "opened":
            return t.c.opened_at >= b.c.since
        if part == "finished":
            return t.c.finished_at >= b.c.back
        assert part == "incidents"
        unlinked = and_(t.c.cause_ref.is_not(None), t.c.deployment_id.is_(None))
        return or_(t.c.opened_at >= b.c.since, unlinked)


def _good(t: FromClause, envs: Sequence[str]) -> ColumnElement[bool]:
    """A successful deployment to production."""
    return and_(t.c.status == "success", one_of(t.c.environment, envs))


# A shape: the environments, the whole scope's kind and number of names, and the number of
# bounded scopes, both numbers of `_SIZES`.
_Shape = tuple[tuple[str, ...], tuple[str, int] | None, int]
_SIZES = (0, 1, 2, 3, 4, 5, 6, 7, 8, 12, 16, 24, 32, 48, 64, 96, 128, 192, 256, 384, 512)


def _size(n: int) -> int:
    """The number of scopes (or names) a statement is built for, to hold `n`: lists are
    filled up to it, so that a few statements serve any number."""
    return next((s for s in _SIZES if s >= n), n)


@lru_cache(maxsize=64)
def _updates(shape: _Shape) -> tuple[Update, Update, Update]:
    envs, whole, bounded = shape
    where = _Scope(whole, _bounds(bounded) if bounded else None)

    d, c, i = deployments, changes, incidents
    named = deployments.alias("named")

    # Changes: the deployment the source named (none when it names one not stored), else
    # the first shipping deployment of the service that started at or after the merge.
    shipping = select(d.c.id, d.c.service, shipped_at(d).label("t")).where(
        _good(d, envs), one_of(d.c.kind, SHIPPING_KINDS), where("shipping", d)
    )
    merged = select(c.c.id, c.c.service, c.c.merged_at.label("t")).where(
        c.c.merged_at.is_not(None), c.c.deployment_ref.is_(None), where("merged", c)
    )
    found = nearest(merged, shipping, after=True).subquery()
    a = changes.alias("c")
    w = (
        select(
            a.c.id,
            case((a.c.deployment_ref.is_not(None), named.c.id), else_=found.c.deployment_id).label(
                "deployment_id"
            ),
        )
        .select_from(
            a.outerjoin(named, named.c.id == a.c.deployment_ref).outerjoin(
                found, found.c.event_id == a.c.id
            )
        )
        .where(where("changes", a))
        .subquery("w")
    )
    ship = (
        update(c)
        .values(deployment_id=w.c.deployment_id)
        .where(c.c.id == w.c.id, c.c.deployment_id.is_distinct_from(w.c.deployment_id))
    )

    # Rollbacks and hotfixes: what the source named, else the service's previous
    # successful deployment that was not itself a rollback.
    repairs = select(
        d.c.id,
        d.c.service,
        (d.c.finished_at - literal_column("INTERVAL '1 microsecond'", Interval)).label("t"),
    ).where(
        _good(d, envs),
        one_of(d.c.kind, ("rollback", "hotfix")),
        d.c.recovers.is_(None),
        where("repairs", d),
    )
    earlier = select(d.c.id, d.c.service, d.c.finished_at.label("t")).where(
        _good(d, envs), d.c.kind != "rollback", where("earlier", d)
    )
    found = nearest(repairs, earlier, after=False).subquery()
    x = deployments.alias("x")
    w = (
        select(
            x.c.id,
            case((x.c.recovers.is_not(None), named.c.id), else_=found.c.deployment_id).label(
                "recovers_id"
            ),
        )
        .select_from(
            x.outerjoin(named, named.c.id == x.c.recovers).outerjoin(
                found, found.c.event_id == x.c.id
            )
        )
        .where(where("deployments", x))
        .subquery("w")
    )
    repair = (
        update(d)
        .values(recovers_id=w.c.recovers_id)
        .where(d.c.id == w.c.id, d.c.recovers_id.is_distinct_from(w.c.recovers_id))
    )

    # Incidents: the deployment they name, else the service's latest successful
    # production deployment within the window before the incident opened, else none.
    opened = select(i.c.id, i.c.service, i.c.opened_at.label("t")).where(
        i.c.cause_ref.is_(None), where("opened", i)
    )
    finished = select(d.c.id, d.c.service, d.c.finished_at.label("t")).where(
        _good(d, envs), where("finished", d)
    )
    n = nearest(opened, finished, after=False).subquery()
    within = (
        select(n.c.event_id, n.c.deployment_id)
        .where(epoch(n.c.event_t) - epoch(n.c.dep_t) <= bindparam("window_s"))
        .subquery()
    )
    b = incidents.alias("i")
    w = (
        select(
            b.c.id,
            case((b.c.cause_ref.is_not(None), named.c.id), else_=within.c.deployment_id).label(
                "deployment_id"
            ),
            case(
                (named.c.id.is_not(None), "named"),
                (and_(b.c.cause_ref.is_(None), within.c.deployment_id.is_not(None)), "window"),
                else_="none",
            ).label("attribution"),
        )
        .select_from(
            b.outerjoin(named, named.c.id == b.c.cause_ref).outerjoin(
                within, within.c.event_id == b.c.id
            )
        )
        .where(where("incidents", b))
        .subquery("w")
    )
    blame = (
        update(i)
        .values(deployment_id=w.c.deployment_id, attribution=w.c.attribution)
        .where(
            i.c.id == w.c.id,
            or_(
                i.c.deployment_id.is_distinct_from(w.c.deployment_id),
                i.c.attribution.is_distinct_from(w.c.attribution),
            ),
        )
    )
    return ship, repair, blame


def relink(store: Store, envs: Sequence[str], window: timedelta, scope: Relink) -> None:
    """Store the links of the rows `scope` reads: each link computed once, as the value it
    should have, and only rows whose stored link differs written."""
    values: dict[str, Any] = {"window_s": window.total_seconds()}
    whole = None
    if scope.whole is not None:
        # (filled with the last name again: `NOT IN` a list holding NULL holds for nothing)
        kind, names = scope.whole
        whole = (kind, _size(len(names)))
        values.update((f"w{i}", names[min(i, len(names) - 1)]) for i in range(whole[1]))
    bounded = _size(len(scope.bounds))
    for i in range(bounded):
        # a scope filled in has no service: `service = NULL` holds for no row
        b = scope.bounds[i] if i < len(scope.bounds) else Bound(None, None, None, None)
        values[f"s{i}"], values[f"since{i}"] = b.service, b.since
        values[f"shipped{i}"], values[f"repaired{i}"] = b.shipped, b.repaired
        values[f"back{i}"] = b.since - window - timedelta(seconds=1) if b.since else None
    for statement in _updates((tuple(envs), whole, bounded)):
        store.run(statement, **values)


@lru_cache(maxsize=32)
def _cuts(envs: tuple[str, ...], n: int) -> Select[Any]:
    b, d, c = _bounds(n, ("since",)), deployments, changes
    # the earliest change of the service left without a deployment, before `since`
    unlinked = (
        select(func.min(c.c.merged_at))
        .where(
            c.c.service == b.c.service,
            c.c.merged_at < b.c.since,
            c.c.deployment_id.is_(None),
            c.c.deployment_ref.is_(None),
        )
        .correlate(b)
        .scalar_subquery()
    )
    shipped = select(func.max(shipped_at(d))).where(
        d.c.service == b.c.service,
        _good(d, envs),
        one_of(d.c.kind, SHIPPING_KINDS),
        shipped_at(d) < func.coalesce(unlinked, b.c.since),
    )
    repaired = select(func.max(d.c.finished_at)).where(
        d.c.service == b.c.service,
        _good(d, envs),
        d.c.kind != "rollback",
        d.c.finished_at < b.c.since,
    )
    return select(b.c.service, shipped.scalar_subquery(), repaired.scalar_subquery()).where(
        b.c.service.is_not(None)
    )


def cuts(
    store: Store, envs: Sequence[str], since: Mapping[str, datetime]
) -> dict[str, tuple[datetime | None, datetime | None]]:
    """For each service in `since`: its last shipping deployment before that instant (or
    before its earliest change left without a deployment, when earlier: a row written
    outside the batch's records), and the last deployment a repair could repair before it."""
    if not since:
        return {}
    ordered: list[tuple[str | None, datetime | None]] = sorted(since.items())
    n = _size(len(ordered))
    ordered += [(None, None)] * (n - len(ordered))  # filled in: no service, no row of it
    values: dict[str, Any] = {}
    for i, (name, at) in enumerate(ordered):
        values[f"s{i}"], values[f"since{i}"] = name, at
    rows = store.rows(_cuts(tuple(envs), n), **values)
    return {str(name): (shipped, repaired) for name, shipped, repaired in rows if name is not None}
