"""Attribution: which deployment shipped each change, which one each incident is blamed on,
and which failed deployment each rollback or hotfix repairs.

What a source states explicitly wins (a deployment listing its changes, an incident naming
its cause, a rollback naming what it undoes). Otherwise the rules below infer a link from
time, per service, and record which rule did it. The links are stored (derived columns) so
that metrics over millions of rows need no re-linking; `link()` recomputes them for the
services a write touched. Every statement is set-based SQL both engines run unchanged.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from headway.config import Settings
from headway.store import Store
from headway.store.base import utc_naive

# Kinds of deployment that put code in front of users (a flag release ships no commits,
# a rollback ships old ones).
SHIPPING_KINDS = ("deploy", "hotfix")
# When a deployment shipped: when it started, else when it finished.
_SHIPPING_T = "COALESCE(started_at, finished_at)"


def _list(values: Iterable[str]) -> str:
    return ", ".join("'" + v.replace("'", "''") + "'" for v in values)


def _nearest(events: str, deployments: str, *, after: bool) -> str:
    """For each event (id, service, t), the deployment nearest in time on one side.

    Events and deployments are merged into one timeline per service, walked backwards (the
    next deployment at or after each event) or forwards (the last one at or before it). Each
    deployment starts a run of the events that follow it in that walk; a running count of
    deployments numbers the runs, and each event takes the deployment at the head of its run.
    No join back to the deployments is needed, so the cost is two sorts whatever the
    planner guesses about row counts. On a tie the deployment sorts first: a change merged at
    the instant a deployment starts ships with it; an incident opened at the instant a
    deployment finishes is blamed on it. Deployments of one service at the same instant are
    one point of the timeline, the one with the smallest id standing for them.
    Columns: event_id, event_t, dep_t, deployment_id.
    """
    order = "t DESC, o" if after else "t, o"
    return f"""
        WITH dep AS (
            SELECT service, t, MIN(id) AS id FROM ({deployments}) d GROUP BY service, t
        ),
        ev AS (
            SELECT id AS event_id, service, t, 1 AS o, NULL AS dep_id FROM ({events}) e
            UNION ALL
            SELECT NULL, service, t, 0, id FROM dep
        ),
        runs AS (
            SELECT event_id, service, t, o, dep_id,
                   COUNT(dep_id) OVER (
                       PARTITION BY service ORDER BY {order} ROWS UNBOUNDED PRECEDING) AS run
            FROM ev
        ),
        carried AS (
            SELECT event_id, t AS event_t,
                   FIRST_VALUE(t) OVER w AS dep_t, FIRST_VALUE(dep_id) OVER w AS deployment_id
            FROM runs
            WINDOW w AS (PARTITION BY service, run ORDER BY {order} ROWS UNBOUNDED PRECEDING)
        )
        SELECT event_id, event_t, dep_t, deployment_id FROM carried
        WHERE event_id IS NOT NULL AND deployment_id IS NOT NULL
    """


def link(
    store: Store,
    settings: Settings,
    services: Iterable[str] | None = None,
    since: Mapping[str, datetime | None] | None = None,
) -> None:
    """Recompute derived links for `services` (all services when None), in one transaction.

    Each link is computed once, as the value it should have, and only rows whose stored link
    differs are written: re-linking a service whose history did not move writes nothing.

    `since` bounds the work for the services it names (webhook batches): the earliest instant
    a write may have moved there, the old and new time columns of each record it wrote (None
    when none had a time). Only links that can depend on something at or after it are
    recomputed, plus every row still without a link; the result is the same as the whole
    re-link of those services (tests/test_linking_bounded.py checks it on both engines).
    """
    names = sorted(set(services)) if services is not None else None
    bounded = {
        name: utc_naive(t) or _END
        for name, t in (since or {}).items()
        if names is None or name in names
    }
    if names is None:
        rest = f"NOT IN ({_list(bounded)})" if bounded else None
        whole: str | None = rest or ""
    else:
        others = [n for n in names if n not in bounded]
        whole = f"IN ({_list(others)})" if others else None
    if whole is None and not bounded:
        return
    envs = _list(settings.production_environments)
    good = f"status = 'success' AND environment IN ({envs})"
    window = timedelta(hours=settings.incident_window_hours)
    with store.transaction():
        cuts = _cuts(store, bounded, good)
        scopes = []
        if whole is not None:
            scopes.append(_Scope.whole(whole))
        for name, at in sorted(bounded.items()):
            shipped, repaired = cuts.get(name, (None, None))
            scopes.append(_Scope.bounded(name, at, shipped, repaired, window))

        def where(part: str, alias: str = "") -> str:
            return " OR ".join(f"({s.render(part, alias)})" for s in scopes)

        # Changes: the deployment the source named (none when it names one not stored), else
        # the first shipping deployment of the service that started at or after the merge.
        shipping = (
            f"SELECT id, service, {_SHIPPING_T} AS t FROM deployments "
            f"WHERE {good} AND kind IN ({_list(SHIPPING_KINDS)}) AND ({where('shipping')})"
        )
        merged = (
            f"SELECT id, service, merged_at AS t FROM changes "
            f"WHERE merged_at IS NOT NULL AND deployment_ref IS NULL AND ({where('merged')})"
        )
        store.execute(
            "UPDATE changes SET deployment_id = w.deployment_id FROM ("
            "SELECT c.id, CASE WHEN c.deployment_ref IS NOT NULL THEN named.id "
            "ELSE l.deployment_id END AS deployment_id "
            "FROM changes c LEFT JOIN deployments named ON named.id = c.deployment_ref "
            f"LEFT JOIN ({_nearest(merged, shipping, after=True)}) l ON l.event_id = c.id "
            f"WHERE {where('changes', 'c')}) w "
            "WHERE changes.id = w.id AND changes.deployment_id IS DISTINCT FROM w.deployment_id"
        )

        # Rollbacks and hotfixes: what the source named, else the service's previous
        # successful deployment that was not itself a rollback.
        repairs = (
            f"SELECT id, service, finished_at - INTERVAL '1 microsecond' AS t FROM deployments "
            f"WHERE {good} AND kind IN ('rollback', 'hotfix') AND recovers IS NULL "
            f"AND ({where('repairs')})"
        )
        earlier = (
            f"SELECT id, service, finished_at AS t FROM deployments "
            f"WHERE {good} AND kind <> 'rollback' AND ({where('earlier')})"
        )
        store.execute(
            "UPDATE deployments SET recovers_id = w.recovers_id FROM ("
            "SELECT x.id, CASE WHEN x.recovers IS NOT NULL THEN named.id "
            "ELSE l.deployment_id END AS recovers_id "
            "FROM deployments x LEFT JOIN deployments named ON named.id = x.recovers "
            f"LEFT JOIN ({_nearest(repairs, earlier, after=False)}) l ON l.event_id = x.id "
            f"WHERE {where('deployments', 'x')}) w "
            "WHERE deployments.id = w.id AND deployments.recovers_id IS DISTINCT FROM w.recovers_id"
        )

        # Incidents: the deployment they name, else the service's latest successful
        # production deployment within the window before the incident opened, else none.
        opened = (
            f"SELECT id, service, opened_at AS t FROM incidents "
            f"WHERE cause_ref IS NULL AND ({where('opened')})"
        )
        finished = (
            f"SELECT id, service, finished_at AS t FROM deployments "
            f"WHERE {good} AND ({where('finished')})"
        )
        within = (
            f"SELECT event_id, deployment_id FROM ({_nearest(opened, finished, after=False)}) n "
            f"WHERE {epoch('n.event_t')} - {epoch('n.dep_t')} <= {window.total_seconds()}"
        )
        store.execute(
            "UPDATE incidents SET deployment_id = w.deployment_id, attribution = w.attribution "
            "FROM (SELECT i.id, "
            "CASE WHEN i.cause_ref IS NOT NULL THEN named.id ELSE l.deployment_id END "
            "AS deployment_id, "
            "CASE WHEN named.id IS NOT NULL THEN 'named' "
            "WHEN i.cause_ref IS NULL AND l.deployment_id IS NOT NULL THEN 'window' "
            "ELSE 'none' END AS attribution "
            "FROM incidents i LEFT JOIN deployments named ON named.id = i.cause_ref "
            f"LEFT JOIN ({within}) l ON l.event_id = i.id WHERE {where('incidents', 'i')}) w "
            "WHERE incidents.id = w.id AND (incidents.deployment_id IS DISTINCT FROM "
            "w.deployment_id OR incidents.attribution IS DISTINCT FROM w.attribution)"
        )


# The columns that place a record on its service's timeline: a write that moves none of them
# before an instant leaves every inferred link that ends before that instant as it was.
_TIMES = {
    "changes": ("merged_at",),
    "deployments": ("started_at", "finished_at"),
    "incidents": ("opened_at",),
}
# "After everything" for a service whose written records carry no time.
_END = datetime(9999, 1, 1)


def affected(
    store: Store, keys: Iterable[tuple[str, str]], into: dict[str, datetime | None]
) -> None:
    """Note in `into` the services of the stored rows with these (table, id) keys and, for
    each, the earliest of those rows' times (None while none has one). Called before a write
    and after it, so a record whose time or service moved counts at its old place and new."""
    by_table: dict[str, list[str]] = {}
    for table, record_id in keys:
        if table in _TIMES:
            by_table.setdefault(table, []).append(record_id)
    for table, ids in sorted(by_table.items()):
        ids = sorted(set(ids))
        columns = ", ".join(f"MIN({c})" for c in _TIMES[table])
        for i in range(0, len(ids), 500):
            chunk = ids[i : i + 500]
            for service, *times in store.query(
                f"SELECT service, {columns} FROM {table} "
                f"WHERE id IN ({', '.join('?' * len(chunk))}) GROUP BY service",
                chunk,
            ):
                into[service] = _earliest(into.get(service), *times)


def _earliest(*values: datetime | None) -> datetime | None:
    known = [utc_naive(v) for v in values if v is not None]
    return min(v for v in known if v is not None) if known else None


def _ts(value: datetime) -> str:
    return f"TIMESTAMP '{value:%Y-%m-%d %H:%M:%S.%f}'"


@dataclass(frozen=True, slots=True)
class _Scope:
    """Which rows one statement reads, by part of it. In a part, `{a}` stands for the table
    alias and `{s}` for `services`, the test on the service column. The names in `services`
    are put in last, so nothing in a name (a `{a}` of its own) is read as the template."""

    parts: dict[str, str]
    services: str

    def render(self, part: str, alias: str) -> str:
        template = self.parts[part].replace("{a}", f"{alias}." if alias else "")
        return template.replace("{s}", self.services)

    @classmethod
    def whole(cls, services: str) -> _Scope:
        """Every row of the services (`services` is `IN (...)`, `NOT IN (...)`, or empty)."""
        condition = "{a}service {s}" if services else "1 = 1"
        return cls(dict.fromkeys(_PARTS, condition), services)

    @classmethod
    def bounded(
        cls,
        service: str,
        since: datetime,
        shipped: datetime | None,
        repaired: datetime | None,
        window: timedelta,
    ) -> _Scope:
        """The rows of one service whose links can depend on something at or after `since`.

        A change merged at or before `shipped` (the service's last shipping deployment
        before `since`) ships at or before it, so only later changes and deployments count.
        A repair finished before `since` repairs a deployment finished before it; one after
        it needs the timeline from `repaired` (the last deployment it could repair before
        `since`). An incident opened after `since` looks back one window at most (a second
        more, for rounding). Rows still without a link are taken whatever their time: the
        deployment a row names can arrive later, and a change can be written beside the
        batch's records (one a push gives back from a pull request it was folded into).
        """
        s = "{a}service {s}"
        # (read without an alias)
        after_shipped = f" AND {_SHIPPING_T} > {_ts(shipped)}" if shipped else ""
        merged = f"{{a}}merged_at > {_ts(shipped)}" if shipped else "{a}merged_at IS NOT NULL"
        from_repaired = f" AND {{a}}finished_at >= {_ts(repaired)}" if repaired else ""
        look_back = _ts(since - window - timedelta(seconds=1))
        return cls(
            {
                "shipping": s + after_shipped,
                "merged": f"{s} AND {merged}",
                "changes": f"{s} AND ({merged} OR {{a}}merged_at IS NULL "
                "OR {a}deployment_id IS NULL)",
                "repairs": f"{s} AND {{a}}finished_at >= {_ts(since)}",
                "earlier": s + from_repaired,
                "deployments": f"{s} AND ({{a}}finished_at >= {_ts(since)} OR "
                "({a}recovers IS NOT NULL AND {a}recovers_id IS NULL))",
                "opened": f"{s} AND {{a}}opened_at >= {_ts(since)}",
                "finished": f"{s} AND {{a}}finished_at >= {look_back}",
                "incidents": f"{s} AND ({{a}}opened_at >= {_ts(since)} OR "
                "({a}cause_ref IS NOT NULL AND {a}deployment_id IS NULL))",
            },
            f"= {_list([service])}",
        )


_PARTS = (
    "shipping",
    "merged",
    "changes",
    "repairs",
    "earlier",
    "deployments",
    "opened",
    "finished",
    "incidents",
)


def _cuts(
    store: Store, bounded: dict[str, datetime], good: str
) -> dict[str, tuple[datetime | None, datetime | None]]:
    """For each bounded service: its last shipping deployment before `since` (or before its
    earliest change left without a deployment, when earlier: a row written outside the
    batch's records), and the last deployment a repair could repair before `since`."""
    if not bounded:
        return {}
    selects = []
    for name, since in sorted(bounded.items()):
        s = f"service = {_list([name])}"
        unlinked = (
            f"SELECT MIN(merged_at) FROM changes WHERE {s} AND merged_at < {_ts(since)} "
            "AND deployment_id IS NULL AND deployment_ref IS NULL"
        )
        selects.append(
            f"SELECT {_list([name])}, "
            f"(SELECT MAX({_SHIPPING_T}) FROM deployments WHERE {s} AND {good} "
            f"AND kind IN ({_list(SHIPPING_KINDS)}) "
            f"AND {_SHIPPING_T} < COALESCE(({unlinked}), {_ts(since)})), "
            f"(SELECT MAX(finished_at) FROM deployments WHERE {s} AND {good} "
            f"AND kind <> 'rollback' AND finished_at < {_ts(since)})"
        )
    return {
        str(name): (shipped, repaired)
        for name, shipped, repaired in store.query(" UNION ALL ".join(selects))
    }


def nearest_deployment(events: str, deployments: str, *, after: bool) -> str:
    """The timeline walk below, for the metric queries that attribute under a definition."""
    return _nearest(events, deployments, after=after)


def epoch(column: str) -> str:
    """Seconds since 1970 as a double, the same number on both engines."""
    return f"CAST(EXTRACT(EPOCH FROM {column}) AS DOUBLE PRECISION)"
