"""SQL fragments shared by the metric queries, written once for DuckDB and PostgreSQL.

Every fragment is rendered from a validated `Definition`, so the only values spliced into SQL
are enum members and numbers; user-supplied names (services, dates) are bound as parameters.
"""

from __future__ import annotations

from headway.definitions import Definition
from headway.linking import epoch
from headway.linking import nearest_deployment as nearest

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
            f"i.resolved_at AS fixed_at FROM ({attributed(defn)}) i "
            "WHERE i.deployment_id IS NOT NULL"
        )
    repairs = [
        ("rollback", "r.kind = 'rollback'"),
        ("hotfix", "r.kind = 'hotfix'"),
        ("rollout_rollback", "r.kind = 'rollback' AND r.\"trigger\" = 'rollout'"),
    ]
    for rule, condition in repairs:
        if rule in rules:
            parts.append(
                f"SELECT r.recovers_id AS deployment_id, '{rule}' AS reason, r.id AS evidence, "
                f"r.finished_at AS fixed_at FROM deployments r "
                f"WHERE {condition} AND r.status = 'success' AND r.recovers_id IS NOT NULL"
            )
    if "revert" in rules:
        parts.append(
            "SELECT shipped AS deployment_id, 'revert' AS reason, revert AS evidence, "
            "fixed_at FROM "
            f"({reverted_shipments()}) rs WHERE "
            f"{epoch('rs.reverted_at')} - {epoch('rs.shipped_at')} <= {window_s}"
        )
    if "failed_status" in rules:
        parts.append(
            "SELECT f.id AS deployment_id, 'failed_status' AS reason, f.id AS evidence, "
            "(SELECT MIN(n.finished_at) FROM deployments n "
            "WHERE n.service = f.service AND n.environment = f.environment "
            "AND n.status = 'success' AND n.finished_at > f.finished_at) AS fixed_at "
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
    """end − start in seconds; NULL when either is unknown or when the end comes first.

    A backwards span (clock skew between tools, a timestamp planted around the writers) is
    left out rather than clamped to zero, which would pull every median down and hide it;
    `negative_span` counts what was left out so the output can say so.
    """
    return (
        f"CASE WHEN {start} IS NOT NULL AND {end} IS NOT NULL AND {end} >= {start} "
        f"THEN {epoch(end)} - {epoch(start)} END"
    )


def negative_span(start: str, end: str) -> str:
    """1 when both are known and the end comes before the start, else 0 (summed per group)."""
    return f"CASE WHEN {end} < {start} THEN 1 ELSE 0 END"


def bucket(kind: str | None, column: str) -> str:
    if kind is None:
        return "CAST(NULL AS TIMESTAMP)"
    return f"date_trunc('{kind}', {column})"


def in_window(defn: Definition, column: str) -> str:
    """`column` inside the period bound as two parameters (since, until). The end is
    exclusive unless the definition includes it, as DevLake's `BETWEEN` does."""
    end = "<=" if defn.window.end == "inclusive" else "<"
    return f"{column} >= ? AND {column} {end} ?"


_ROUNDING = {
    "exact": "{x}",
    "ceil_minute": "CEIL(({x}) / 60.0) * 60.0",
    "trunc_minute": "TRUNC(({x}) / 60.0) * 60.0",
    "trunc_hour": "TRUNC(({x}) / 3600.0) * 3600.0",
}


def span(defn: Definition, rounding: str, start: str, end: str, *, drop_zero: bool = False) -> str:
    """end − start in seconds under the definition's rules: rounded first (as the peers
    round before they compare), then a negative span left out (NULL) or made zero, and a
    zero one dropped where the definition drops it. NULL when either end is unknown."""
    x = _ROUNDING[rounding].format(x=f"{epoch(end)} - {epoch(start)}")
    negative = "NULL" if defn.spans.negative == "left_out" else "0.0"
    zero = "NULL" if drop_zero else "0.0"
    return (
        f"CASE WHEN {start} IS NULL OR {end} IS NULL THEN NULL "
        f"WHEN {x} < 0 THEN {negative} WHEN {x} = 0 THEN {zero} ELSE {x} END"
    )


def lead_time(defn: Definition) -> str:
    """A change's lead time in seconds (alias c for the change, d for its deployment)."""
    rules = defn.lead_time
    if rules.measure == "span":
        return span(
            defn,
            rules.rounding,
            lead_start(defn),
            "d.finished_at",
            drop_zero=rules.zero == "dropped",
        )
    parts = [("c.opened_at", "c.merged_at"), ("c.merged_at", "d.finished_at")]
    if rules.start == "first_commit":
        parts.insert(0, ("c.first_commit_at", "c.opened_at"))
    if rules.start == "merged":
        parts = parts[1:]
    # each part left out when it is unknown or negative, as DevLake's cycle time does
    return " + ".join(f"COALESCE({span(defn, rules.rounding, a, b)}, 0.0)" for a, b in parts)


def negatives(defn: Definition, start: str, end: str) -> str:
    """1 for a span the definition leaves out because its end comes first, else 0 (summed
    per group, so the output can say how many were left out)."""
    return negative_span(start, end) if defn.spans.negative == "left_out" else "0"


def lead_negative(defn: Definition) -> str:
    """1 for a change whose lead time the definition leaves out as negative. A lead time
    summed from parts leaves out each negative part instead, so no change is left out."""
    if defn.lead_time.measure != "span":
        return "0"
    return negatives(defn, lead_start(defn), "d.finished_at")


def lead_changes(defn: Definition) -> str:
    """The condition on a change (alias c) for its lead time to be measured."""
    return "c.opened_at IS NOT NULL" if defn.lead_time.changes == "pull_requests" else "1 = 1"


def ships(defn: Definition, alias: str = "d") -> str:
    """The condition for a counted deployment to ship the changes linked to it. Under
    `first_deployment = ships_nothing` a deployment needs an earlier counted one of its
    service: DevLake ships a change only inside a commit range, which the first lacks."""
    if defn.shipping.first_deployment == "ships":
        return "1 = 1"
    t = "COALESCE({a}.started_at, {a}.finished_at)"
    return (
        f"EXISTS (SELECT 1 FROM deployments p WHERE p.service = {alias}.service "
        f"AND {counted_deployments(defn, 'p')} "
        f"AND {t.format(a='p')} < {t.format(a=alias)})"
    )


def good_deployments(defn: Definition) -> str:
    """Deployments an incident can be blamed on: successful, in the definition's
    environments, of any kind."""
    parts = ["status = 'success'"]
    if "*" not in defn.deployments.environments:
        parts.append(
            f"environment IN ({', '.join(quote(e) for e in defn.deployments.environments)})"
        )
    return " AND ".join(parts)


def attributed(defn: Definition) -> str:
    """Every incident with the deployment the definition blames it on (NULL: none):
    columns id, service, opened_at, resolved_at, deployment_id, cause_t (when the blamed
    deployment finished).

    Computed from the definition, not read from the stored link, so two definitions can be
    compared on one store; the preceding deployment is found by the same timeline walk the
    stored link uses (two sorts, whatever the row counts)."""
    rules = defn.attribution
    named = (
        "SELECT i.id, n.id AS deployment_id, n.finished_at AS cause_t FROM incidents i "
        "JOIN deployments n ON n.id = i.cause_ref"
    )
    if rules.rule == "named":
        blamed = named
    else:
        events = "SELECT id, service, opened_at AS t FROM incidents"
        if rules.rule == "named_or_window":
            # a named cause that is not stored blames nothing, as the stored link does
            events += " WHERE cause_ref IS NULL"
        deployments = (
            f"SELECT id, service, finished_at AS t FROM deployments WHERE {good_deployments(defn)}"
        )
        limit = (
            f" WHERE {epoch('n.event_t')} - {epoch('n.dep_t')} <= {rules.window_hours * 3600.0}"
            if rules.rule == "named_or_window"
            else ""
        )
        preceding = (
            "SELECT n.event_id AS id, n.deployment_id, n.dep_t AS cause_t "
            f"FROM ({nearest(events, deployments, after=False)}) n{limit}"
        )
        blamed = preceding if rules.rule == "latest_before" else f"{named} UNION ALL {preceding}"
    return (
        "SELECT i.id, i.service, i.opened_at, i.resolved_at, b.deployment_id, b.cause_t "
        f"FROM incidents i LEFT JOIN ({blamed}) b ON b.id = i.id"
    )
