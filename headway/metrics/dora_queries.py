"""The three queries behind the five DORA metrics, each grouped by scope key and time bucket
in the database: deployments (frequency, change fail rate, rework), changes (lead time) and
recoveries.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from headway.definitions import Definition
from headway.metrics import sql as q
from headway.metrics.scope import Period
from headway.store import Store

_NO_DURATIONS = {
    "n": 0,
    "median_s": None,
    "p75_s": None,
    "p90_s": None,
    "mean_s": None,
    "negative": 0,
}


def empty(_: Period) -> dict[str, Any]:
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


def aggregate(
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
        return out.setdefault(k, empty(period))

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
