"""Attribution: which deployment shipped each change, which one each incident is blamed on,
and which failed deployment each rollback or hotfix repairs.

What a source states explicitly wins (a deployment listing its changes, an incident naming
its cause, a rollback naming what it undoes). Otherwise the rules below infer a link from
time, per service, and record which rule did it. The links are stored (derived columns) so
that metrics over millions of rows need no re-linking; `link()` recomputes them for the
services a write touched. Every statement is set-based SQL both engines run unchanged.
"""

from __future__ import annotations

from collections.abc import Iterable

from headway.config import Settings
from headway.store import Store

# Kinds of deployment that put code in front of users (a flag release ships no commits,
# a rollback ships old ones).
SHIPPING_KINDS = ("deploy", "hotfix")


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


def link(store: Store, settings: Settings, services: Iterable[str] | None = None) -> None:
    """Recompute derived links for `services` (all services when None), in one transaction.

    Each link is computed once, as the value it should have, and only rows whose stored link
    differs are written: re-linking a service whose history did not move writes nothing,
    which keeps it cheap when webhooks re-link the services of every small batch.
    """
    names = sorted(set(services)) if services is not None else None
    if names == []:
        return

    def only(alias: str = "") -> str:
        column = f"{alias}.service" if alias else "service"
        return f"AND {column} IN ({_list(names)})" if names else ""

    envs = _list(settings.production_environments)
    good = f"status = 'success' AND environment IN ({envs}) {only()}"
    window_s = settings.incident_window_hours * 3600.0
    with store.transaction():
        # Changes: the deployment the source named (none when it names one not stored), else
        # the first shipping deployment of the service that started at or after the merge.
        shipping = (
            f"SELECT id, service, COALESCE(started_at, finished_at) AS t FROM deployments "
            f"WHERE {good} AND kind IN ({_list(SHIPPING_KINDS)})"
        )
        merged = (
            f"SELECT id, service, merged_at AS t FROM changes "
            f"WHERE merged_at IS NOT NULL AND deployment_ref IS NULL {only()}"
        )
        store.execute(
            "UPDATE changes SET deployment_id = w.deployment_id FROM ("
            "SELECT c.id, CASE WHEN c.deployment_ref IS NOT NULL THEN named.id "
            "ELSE l.deployment_id END AS deployment_id "
            "FROM changes c LEFT JOIN deployments named ON named.id = c.deployment_ref "
            f"LEFT JOIN ({_nearest(merged, shipping, after=True)}) l ON l.event_id = c.id "
            f"WHERE 1 = 1 {only('c')}) w "
            "WHERE changes.id = w.id AND changes.deployment_id IS DISTINCT FROM w.deployment_id"
        )

        # Rollbacks and hotfixes: what the source named, else the service's previous
        # successful deployment that was not itself a rollback.
        repairs = (
            f"SELECT id, service, finished_at - INTERVAL '1 microsecond' AS t FROM deployments "
            f"WHERE {good} AND kind IN ('rollback', 'hotfix') AND recovers IS NULL"
        )
        earlier = (
            f"SELECT id, service, finished_at AS t FROM deployments "
            f"WHERE {good} AND kind <> 'rollback'"
        )
        store.execute(
            "UPDATE deployments SET recovers_id = w.recovers_id FROM ("
            "SELECT x.id, CASE WHEN x.recovers IS NOT NULL THEN named.id "
            "ELSE l.deployment_id END AS recovers_id "
            "FROM deployments x LEFT JOIN deployments named ON named.id = x.recovers "
            f"LEFT JOIN ({_nearest(repairs, earlier, after=False)}) l ON l.event_id = x.id "
            f"WHERE 1 = 1 {only('x')}) w "
            "WHERE deployments.id = w.id AND deployments.recovers_id IS DISTINCT FROM w.recovers_id"
        )

        # Incidents: the deployment they name, else the service's latest successful
        # production deployment within the window before the incident opened, else none.
        opened = (
            f"SELECT id, service, opened_at AS t FROM incidents WHERE cause_ref IS NULL {only()}"
        )
        finished = f"SELECT id, service, finished_at AS t FROM deployments WHERE {good}"
        within = (
            f"SELECT event_id, deployment_id FROM ({_nearest(opened, finished, after=False)}) n "
            f"WHERE {epoch('n.event_t')} - {epoch('n.dep_t')} <= {window_s}"
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
            f"LEFT JOIN ({within}) l ON l.event_id = i.id WHERE 1 = 1 {only('i')}) w "
            "WHERE incidents.id = w.id AND (incidents.deployment_id IS DISTINCT FROM "
            "w.deployment_id OR incidents.attribution IS DISTINCT FROM w.attribution)"
        )


def epoch(column: str) -> str:
    """Seconds since 1970 as a double, the same number on both engines."""
    return f"CAST(EXTRACT(EPOCH FROM {column}) AS DOUBLE PRECISION)"
