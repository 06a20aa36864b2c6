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

    Events and deployments are merged into one timeline per service; a running MIN (walking
    backwards) or MAX (walking forwards) carries the nearest deployment time to each event.
    On a tie the deployment sorts first: a change merged at the instant a deployment starts
    ships with it; an incident opened at the instant a deployment finishes is blamed on it.
    """
    order, agg = ("t DESC, o", "MIN") if after else ("t, o", "MAX")
    return f"""
        WITH ev AS (
            SELECT id AS event_id, service, t, 1 AS o FROM ({events}) e
            UNION ALL
            SELECT NULL, service, t, 0 FROM ({deployments}) d
        ),
        carried AS (
            SELECT event_id, service, t AS event_t,
                   {agg}(CASE WHEN o = 0 THEN t END) OVER (
                       PARTITION BY service ORDER BY {order} ROWS UNBOUNDED PRECEDING) AS dep_t
            FROM ev
        )
        SELECT c.event_id, c.event_t, MIN(d.id) AS deployment_id
        FROM carried c JOIN ({deployments}) d ON d.service = c.service AND d.t = c.dep_t
        WHERE c.event_id IS NOT NULL
        GROUP BY c.event_id, c.event_t
    """


def link(store: Store, settings: Settings, services: Iterable[str] | None = None) -> None:
    """Recompute derived links for `services` (all services when None), in one transaction."""
    names = sorted(set(services)) if services is not None else None
    if names == []:
        return
    only = f"AND service IN ({_list(names)})" if names else ""
    envs = _list(settings.production_environments)
    good = f"status = 'success' AND environment IN ({envs}) {only}"
    window_s = settings.incident_window_hours * 3600.0
    with store.transaction():
        # Changes: the deployment the source named, else the first shipping deployment of the
        # service that started at or after the merge.
        store.execute(f"UPDATE changes SET deployment_id = NULL WHERE deployment_id IS NOT NULL {only}")
        store.execute(
            f"UPDATE changes SET deployment_id = deployment_ref WHERE deployment_ref IS NOT NULL {only} "
            "AND deployment_ref IN (SELECT id FROM deployments)"
        )
        shipping = (
            f"SELECT id, service, COALESCE(started_at, finished_at) AS t FROM deployments "
            f"WHERE {good} AND kind IN ({_list(SHIPPING_KINDS)})"
        )
        merged = (
            f"SELECT id, service, merged_at AS t FROM changes "
            f"WHERE merged_at IS NOT NULL AND deployment_ref IS NULL {only}"
        )
        store.execute(
            f"UPDATE changes SET deployment_id = l.deployment_id "
            f"FROM ({_nearest(merged, shipping, after=True)}) l WHERE changes.id = l.event_id"
        )

        # Rollbacks and hotfixes: what the source named, else the service's previous
        # successful deployment that was not itself a rollback.
        store.execute(f"UPDATE deployments SET recovers_id = NULL WHERE recovers_id IS NOT NULL {only}")
        store.execute(
            f"UPDATE deployments SET recovers_id = recovers WHERE recovers IS NOT NULL {only} "
            "AND recovers IN (SELECT id FROM deployments)"
        )
        repairs = (
            f"SELECT id, service, finished_at - INTERVAL '1 microsecond' AS t FROM deployments "
            f"WHERE {good} AND kind IN ('rollback', 'hotfix') AND recovers IS NULL"
        )
        earlier = f"SELECT id, service, finished_at AS t FROM deployments WHERE {good} AND kind <> 'rollback'"
        store.execute(
            f"UPDATE deployments SET recovers_id = l.deployment_id "
            f"FROM ({_nearest(repairs, earlier, after=False)}) l WHERE deployments.id = l.event_id"
        )

        # Incidents: the deployment they name, else the service's latest successful
        # production deployment within the window before the incident opened, else none.
        store.execute(
            f"UPDATE incidents SET deployment_id = NULL, attribution = 'none' WHERE 1 = 1 {only}"
        )
        store.execute(
            f"UPDATE incidents SET deployment_id = cause_ref, attribution = 'named' "
            f"WHERE cause_ref IS NOT NULL {only} AND cause_ref IN (SELECT id FROM deployments)"
        )
        opened = (
            f"SELECT id, service, opened_at AS t FROM incidents WHERE cause_ref IS NULL {only}"
        )
        finished = f"SELECT id, service, finished_at AS t FROM deployments WHERE {good}"
        store.execute(
            f"UPDATE incidents SET deployment_id = l.deployment_id, attribution = 'window' "
            f"FROM ({_nearest(opened, finished, after=False)}) l, deployments d "
            f"WHERE incidents.id = l.event_id AND d.id = l.deployment_id "
            f"AND {epoch('l.event_t')} - {epoch('d.finished_at')} <= {window_s}"
        )


def epoch(column: str) -> str:
    """Seconds since 1970 as a double, the same number on both engines."""
    return f"CAST(EXTRACT(EPOCH FROM {column}) AS DOUBLE PRECISION)"
