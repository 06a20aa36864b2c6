"""SQL fragments shared by the metric queries, written once for DuckDB and PostgreSQL.

Every fragment is rendered from a validated `Definition`, so the only values spliced into SQL
are enum members and numbers; user-supplied names (services, dates) are bound as parameters.
"""

from __future__ import annotations

from headway.definitions import Definition
from headway.linking import epoch

GROUP_KEYS = {
    "service": "d.service",
    "team": "COALESCE(s.team, '(no team)')",
    "context": "COALESCE(s.context, '(no context)')",
    "organisation": "'organisation'",
}


def quote(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def counted_deployments(defn: Definition, alias: str = "d") -> str:
    """The WHERE condition for the deployments this definition counts."""
    rules = defn.deployments
    kinds = ["deploy", "hotfix"]
    if rules.include_rollbacks:
        kinds.append("rollback")
    if rules.include_releases:
        kinds.append("release")
    parts = [
        f"{alias}.status IN ({', '.join(quote(s) for s in rules.statuses)})",
        f"{alias}.kind IN ({', '.join(quote(k) for k in kinds)})",
    ]
    if "*" not in rules.environments:
        parts.append(f"{alias}.environment IN ({', '.join(quote(e) for e in rules.environments)})")
    return " AND ".join(parts)


def evidence(defn: Definition) -> str:
    """One row per reason a deployment failed: (deployment_id, reason, evidence, fixed_at).

    `fixed_at` is when that piece of evidence says service was restored: the incident's
    resolution, the rollback or hotfix finishing, the revert reaching production.
    """
    rules = set(defn.failure.rules)
    window_s = defn.failure.revert_window_days * 86400.0
    parts = []
    if "incident" in rules:
        parts.append(
            "SELECT i.deployment_id AS deployment_id, 'incident' AS reason, i.id AS evidence, "
            "i.resolved_at AS fixed_at FROM incidents i WHERE i.deployment_id IS NOT NULL"
        )
    repairs = [
        ("rollback", "r.kind = 'rollback'"),
        ("hotfix", "r.kind = 'hotfix'"),
        ("rollout_rollback", "r.kind = 'rollback' AND r.\"trigger\" = 'rollout'"),
    ]
    for rule, condition in repairs:
        if rule in rules:
            parts.append(
                f"SELECT r.recovers_id, '{rule}', r.id, r.finished_at FROM deployments r "
                f"WHERE {condition} AND r.status = 'success' AND r.recovers_id IS NOT NULL"
            )
    if "revert" in rules:
        parts.append(
            "SELECT shipped, 'revert', revert, fixed_at FROM "
            f"({reverted_shipments()}) rs WHERE "
            f"{epoch('rs.reverted_at')} - {epoch('rs.shipped_at')} <= {window_s}"
        )
    if "failed_status" in rules:
        parts.append(
            "SELECT f.id, 'failed_status', f.id, (SELECT MIN(n.finished_at) FROM deployments n "
            "WHERE n.service = f.service AND n.environment = f.environment "
            "AND n.status = 'success' AND n.finished_at > f.finished_at) "
            "FROM deployments f WHERE f.status = 'failure'"
        )
    if not parts:
        return (
            "SELECT CAST(NULL AS TEXT) AS deployment_id, CAST(NULL AS TEXT) AS reason, "
            "CAST(NULL AS TEXT) AS evidence, CAST(NULL AS TIMESTAMP) AS fixed_at WHERE 1 = 0"
        )
    return " UNION ALL ".join(parts)


def failures(defn: Definition) -> str:
    """Per failed deployment: its reasons, evidence count and first fix."""
    return (
        "SELECT deployment_id, MIN(reason) AS reason, COUNT(*) AS evidence_count, "
        f"MIN(fixed_at) AS first_fix FROM ({evidence(defn)}) ev GROUP BY deployment_id"
    )


def reverted_shipments() -> str:
    """One row per revert that undid a change a deployment shipped without that revert:
    (revert, reverted_at, shipped, shipped_at, fix, fixed_at).

    `shipped` is the deployment that shipped the reverted change, `fix` the one shipping the
    revert (NULL while none does). A deployment shipping a change together with its revert,
    or after the revert already shipped, put nothing broken in front of users, so it is left
    out; so is reverting a revert, which re-lands the change rather than repairing anything.
    """
    return (
        "SELECT rv.id AS revert, rv.merged_at AS reverted_at, "
        "cd.id AS shipped, cd.finished_at AS shipped_at, "
        "rd.id AS fix, rd.finished_at AS fixed_at "
        "FROM (SELECT * FROM changes WHERE reverts IS NOT NULL) rv "
        "JOIN changes c ON c.id = rv.reverts "
        "JOIN deployments cd ON cd.id = c.deployment_id "
        "LEFT JOIN deployments rd ON rd.id = rv.deployment_id "
        "WHERE rv.merged_at IS NOT NULL AND c.reverts IS NULL "
        "AND (rd.id IS NULL OR rd.finished_at > cd.finished_at)"
    )


def rework() -> str:
    """Deployments that exist to repair production: a rollback or hotfix of a failed
    deployment, or a deployment that ships the revert of a change an earlier deployment
    shipped."""
    return (
        "SELECT id FROM deployments WHERE recovers_id IS NOT NULL "
        f"UNION SELECT fix FROM ({reverted_shipments()}) rs WHERE fix IS NOT NULL"
    )


def durations(defn: Definition, column: str = "x", where: str | None = None) -> str:
    """count, median, p75, p90, mean of a duration column, in the definition's flavour.

    `where` restricts the rows aggregated (an aggregate FILTER), so one pass over a table can
    summarise several populations.
    """
    fn = "percentile_disc" if defn.summary.median == "lower" else "percentile_cont"
    flt = f" FILTER (WHERE {where})" if where else ""
    median = f"AVG({column}){flt}" if defn.summary.median == "mean" else _pct(fn, 0.5, column, flt)
    return (
        f"COUNT({column}){flt}, {median}, {_pct(fn, 0.75, column, flt)}, "
        f"{_pct(fn, 0.9, column, flt)}, AVG({column}){flt}"
    )


def _pct(fn: str, q: float, column: str, flt: str) -> str:
    return f"{fn}({q}) WITHIN GROUP (ORDER BY {column}){flt}"


def lead_start(defn: Definition) -> str:
    order = {
        "first_commit": ["c.first_commit_at", "c.opened_at", "c.merged_at"],
        "opened": ["c.opened_at", "c.first_commit_at", "c.merged_at"],
        "merged": ["c.merged_at"],
    }[defn.lead_time.start]
    return f"COALESCE({', '.join(order)})"


def seconds_between(start: str, end: str) -> str:
    """end − start in seconds, never negative (clock skew), NULL when either is unknown.

    (GREATEST alone would turn a NULL into 0: both engines skip NULL arguments.)
    """
    return (
        f"CASE WHEN {start} IS NOT NULL AND {end} IS NOT NULL "
        f"THEN GREATEST(0.0, {epoch(end)} - {epoch(start)}) END"
    )


def bucket(kind: str | None, column: str) -> str:
    if kind is None:
        return "CAST(NULL AS TIMESTAMP)"
    return f"date_trunc('{kind}', {column})"
