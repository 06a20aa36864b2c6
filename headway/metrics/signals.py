"""Friction signals: the pressure indicators around the five metrics.

Approval latency by gate kind, batch size, lead-time variance, deployment friction, rollback
clustering, change-failure concentration, escaped-defect clustering, incident themes,
rework, and AI-assisted change compared with the rest. Four portable queries fetch the
records of a scope and period (deployments with their failure and friction facts, changes,
approvals, incidents and defects); everything else is arithmetic over those rows, so each
number can name the records behind it.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from headway.definitions import Definition
from headway.metrics import sql as q
from headway.metrics.durations import describe, describe_spans
from headway.metrics.scope import Period, Scope, bucket_starts, iso, next_start, services_in
from headway.metrics.stages import GATE_KINDS, LEAD_BOUNDS
from headway.model import list_of
from headway.store import Store

MIN_FAILURES = 5  # below this a concentration index says more about chance than about risk
MIN_GROUP = 5
TRIVIAL_LINES = 10
SIZE_BUCKETS = (
    (0, "empty"),
    (10, "1–10 lines"),
    (100, "11–100"),
    (500, "101–500"),
    (10**12, "over 500"),
)
# Changes users cannot see: chores, docs, CI, dependency bumps and version bumps.
NOT_USER_VISIBLE = ("chore", "docs", "ci", "dependencies", "build")


def _lines(alias: str = "") -> str:
    """Lines a change touched, as a float so that no two sizes overflow 64 bits when added;
    a negative size (no writer stores one) counts as unknown."""
    return " + ".join(
        f"COALESCE(CASE WHEN {alias}{c} >= 0 THEN CAST({alias}{c} AS DOUBLE PRECISION) END, 0)"
        for c in ("additions", "deletions")
    )


_INVISIBLE = (
    "("
    + " OR ".join(
        [f"labels LIKE '%\"{label}\"%'" for label in NOT_USER_VISIBLE] + ["title LIKE 'Bump %'"]
    )
    + ")"
)
WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


@dataclass(frozen=True)
class AiRule:
    """How an AI-assisted change is recognised: any label, author or title trailer matches."""

    labels: tuple[str, ...] = ("ai-assisted", "ai-generated", "copilot")
    authors: tuple[str, ...] = ("copilot", "copilot-swe-agent[bot]", "devin-ai-integration[bot]")
    trailers: tuple[str, ...] = ("co-authored-by: copilot", "assisted-by:", "generated-by:")

    def matches(self, labels: list[str], author: str | None, text: str | None) -> bool:
        if {label.lower() for label in labels} & {x.lower() for x in self.labels}:
            return True
        if author and author.lower() in {a.lower() for a in self.authors}:
            return True
        lowered = (text or "").lower()
        return any(t.lower() in lowered for t in self.trailers)

    def to_json(self) -> dict[str, list[str]]:
        return {
            "labels": list(self.labels),
            "authors": list(self.authors),
            "trailers": list(self.trailers),
        }


@dataclass
class Rows:
    """The records of one scope and period that every signal is computed from."""

    deployments: list[dict[str, Any]] = field(default_factory=list)
    changes: list[dict[str, Any]] = field(default_factory=list)
    approvals: list[dict[str, Any]] = field(default_factory=list)
    incidents: list[dict[str, Any]] = field(default_factory=list)
    defects: list[dict[str, Any]] = field(default_factory=list)


def load(store: Store, defn: Definition, services: list[str], period: Period) -> Rows:
    if not services:
        return Rows()
    marks = ", ".join("?" for _ in services)
    args = [period.since, period.until, *services]
    gates = ", ".join(q.quote(k) for k in GATE_KINDS)
    deployments = store.query_dicts(
        f"""
        WITH fail AS ({q.failures(defn)}), rw AS (SELECT DISTINCT id FROM ({q.rework()}) r)
        SELECT d.id, d.service, COALESCE(s.team, '(no team)') AS team, d.kind, d.started_at,
               d.finished_at, d."trigger" AS trig, f.reason AS failure_reason,
               CASE WHEN rw.id IS NOT NULL THEN 1 ELSE 0 END AS rework,
               COALESCE(cs.n, 0) AS changes, COALESCE(cs.lines, 0) AS lines,
               COALESCE(pr.runs, 0) AS runs, COALESCE(pr.failed_runs, 0) AS failed_runs,
               COALESCE(dg.n, 0) + COALESCE(cg.n, 0) AS gates,
               COALESCE(cs.visible, 0) AS visible, COALESCE(cs.visible_lines, 0) AS visible_lines,
               CASE WHEN d.version IS NOT NULL AND EXISTS (
                   SELECT 1 FROM deployments e WHERE e.service = d.service
                   AND e.environment = d.environment AND e.version = d.version
                   AND e.finished_at < d.finished_at) THEN 1 ELSE 0 END AS repeat_version
        FROM deployments d LEFT JOIN services s ON s.name = d.service
        LEFT JOIN fail f ON f.deployment_id = d.id
        LEFT JOIN rw ON rw.id = d.id
        LEFT JOIN (SELECT deployment_id, COUNT(*) AS n,
                          SUM({_lines()}) AS lines
                          , SUM(CASE WHEN {_INVISIBLE} THEN 0 ELSE 1 END) AS visible
                          , SUM(CASE WHEN {_INVISIBLE} THEN 0
                                     ELSE {_lines()} END)
                                AS visible_lines
                   FROM changes WHERE deployment_id IS NOT NULL GROUP BY deployment_id) cs
               ON cs.deployment_id = d.id
        LEFT JOIN (SELECT deployment_ref, COUNT(*) AS runs,
                          SUM(CASE WHEN conclusion = 'failure' THEN 1 ELSE 0 END) AS failed_runs
                   FROM pipeline_runs WHERE deployment_ref IS NOT NULL GROUP BY deployment_ref) pr
               ON pr.deployment_ref = d.id
        LEFT JOIN (SELECT deployment_ref, COUNT(*) AS n FROM approvals
                   WHERE kind IN ({gates}) AND deployment_ref IS NOT NULL GROUP BY deployment_ref) dg
               ON dg.deployment_ref = d.id
        LEFT JOIN (SELECT c.deployment_id, COUNT(*) AS n FROM approvals a
                   JOIN changes c ON c.id = a.change_ref
                   WHERE a.kind IN ({gates}) GROUP BY c.deployment_id) cg ON cg.deployment_id = d.id
        WHERE {q.counted_deployments(defn)} AND d.finished_at >= ? AND d.finished_at < ?
          AND d.service IN ({marks})
        ORDER BY d.finished_at, d.id
        """,
        args,
    )
    changes = store.query_dicts(
        f"""
        WITH fail AS ({q.failures(defn)})
        SELECT c.id, c.service, c.author, c.title, c.labels, d.id AS deployment_id, d.finished_at,
               {q.lead_start(defn)} AS lead_start,
               {_lines("c.")} AS lines, c.is_revert,
               CASE WHEN f.deployment_id IS NOT NULL THEN 1 ELSE 0 END AS failed,
               CASE WHEN EXISTS (SELECT 1 FROM changes r WHERE r.reverts = c.id) THEN 1 ELSE 0 END
                   AS reverted
        FROM changes c JOIN deployments d ON d.id = c.deployment_id
        LEFT JOIN fail f ON f.deployment_id = d.id
        WHERE {q.counted_deployments(defn)} AND d.finished_at >= ? AND d.finished_at < ?
          AND d.service IN ({marks})
        ORDER BY d.finished_at, c.id
        """,
        args,
    )
    approvals = store.query_dicts(
        f"""
        SELECT a.id, a.kind, a.requested_at, a.decided_at, a.decision, a.deployment_ref,
               COALESCE(a.service, c.service, d.service) AS service
        FROM approvals a LEFT JOIN changes c ON c.id = a.change_ref
        LEFT JOIN deployments d ON d.id = a.deployment_ref
        WHERE a.decided_at >= ? AND a.decided_at < ?
          AND COALESCE(a.service, c.service, d.service) IN ({marks})
        ORDER BY a.decided_at, a.id
        """,
        args,
    )
    incidents = store.query_dicts(
        f"SELECT id, service, opened_at, resolved_at, severity, title, labels, attribution, "
        f"deployment_id FROM incidents WHERE opened_at >= ? AND opened_at < ? "
        f"AND service IN ({marks}) ORDER BY opened_at, id",
        args,
    )
    defects = store.query_dicts(
        f"SELECT id, service, found_at, severity, change_ref, deployment_ref FROM defects "
        f"WHERE found_at >= ? AND found_at < ? AND service IN ({marks}) ORDER BY found_at, id",
        args,
    )
    # PostgreSQL returns SUM(BIGINT) as NUMERIC; counts are integers on both engines.
    for row in deployments:
        row["failed"] = row["failure_reason"] is not None
        for key in (
            "rework",
            "changes",
            "lines",
            "runs",
            "failed_runs",
            "gates",
            "visible",
            "visible_lines",
            "repeat_version",
        ):
            row[key] = int(row[key])
    for row in changes:
        for key in ("lines", "failed", "reverted"):
            row[key] = int(row[key])
    for row in (*changes, *incidents):
        row["labels"] = list_of(row.get("labels"))
    return Rows(deployments, changes, approvals, incidents, defects)


# -- the signals -----------------------------------------------------------------------------


def approval_latency(rows: Rows) -> dict[str, Any]:
    by_kind: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for a in rows.approvals:
        by_kind[a["kind"]].append(a)
    out = {}
    for kind, items in sorted(by_kind.items()):
        waits = [(a["requested_at"], a["decided_at"]) for a in items]
        out[kind] = {
            **describe_spans(waits, "approval wait", _ASKED, ("approval", "approvals")),
            "rejected": sum(1 for a in items if a["decision"] == "rejected"),
        }
    return out


def _shipping(rows: Rows) -> list[dict[str, Any]]:
    return [d for d in rows.deployments if d["kind"] in ("deploy", "hotfix")]


def batch_size(rows: Rows) -> dict[str, Any]:
    ships = _shipping(rows)
    empty = [d["id"] for d in ships if d["changes"] == 0]
    trivial = [d["id"] for d in ships if 0 < d["lines"] <= TRIVIAL_LINES]
    return {
        "deployments": len(ships),
        "changes_per_deployment": describe([d["changes"] for d in ships], "deployments", ""),
        "lines_per_deployment": describe([d["lines"] for d in ships], "deployments", ""),
        "empty": len(empty),
        "empty_share": _share(len(empty), len(ships)),
        "trivial": len(trivial),
        "trivial_share": _share(len(trivial), len(ships)),
        "trivial_lines": TRIVIAL_LINES,
        "empty_deployments": empty[:50],
    }


_ASKED = ("requested", "decided")
_RAN = ("started", "finished")


def _leads(changes: list[dict[str, Any]]) -> dict[str, Any]:
    """Lead time of `changes`, leaving out (and counting) any that ran backwards."""
    return describe_spans(
        ((c["lead_start"], c["finished_at"]) for c in changes), "lead time", LEAD_BOUNDS
    )


def lead_time_variance(rows: Rows, period: Period, by: str) -> dict[str, Any]:
    overall = _leads(rows.changes)
    trend = []
    for start in bucket_starts(period, by):
        end = next_start(start, by)
        part = _leads([c for c in rows.changes if start <= c["finished_at"] < end])
        trend.append(
            {
                "since": iso(max(start, period.since)),
                "changes": part["n"],
                "median_s": part["median_s"],
                "iqr_s": part["iqr_s"],
                "notes": part["notes"],
            }
        )
    relative = (
        overall["iqr_s"] / overall["median_s"]
        if overall["iqr_s"] is not None and overall["median_s"]
        else None
    )
    return {**overall, "iqr_over_median": _round(relative), "by": by, "trend": trend}


def deployment_friction(rows: Rows) -> dict[str, Any]:
    deps = rows.deployments
    durations = [(d["started_at"], d["finished_at"]) for d in deps]
    return {
        "deployments": len(deps),
        "failed_runs_per_deployment": _round(_mean([d["failed_runs"] for d in deps])),
        "deployments_with_failed_runs": sum(1 for d in deps if d["failed_runs"]),
        "pipeline_runs": sum(d["runs"] for d in deps),
        "duration": describe_spans(durations, "duration", _RAN, ("deployment", "deployments")),
        "manual_gates_per_deployment": _round(_mean([d["gates"] for d in deps])),
        "manual_triggers": sum(1 for d in deps if (d["trig"] or "") == "manual"),
    }


def rollback_clustering(rows: Rows, window_days: float = 7.0, burst: int = 3) -> dict[str, Any]:
    """Rollbacks, and bursts: `burst` or more in one service within `window_days`."""
    rollbacks = [d for d in rows.deployments if d["kind"] == "rollback"]
    bursts = []
    by_service: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for d in rollbacks:
        by_service[d["service"]].append(d)
    for service, items in sorted(by_service.items()):
        i = 0
        while i < len(items):
            j = i
            while j + 1 < len(items) and items[j + 1]["finished_at"] - items[i][
                "finished_at"
            ] <= timedelta(days=window_days):
                j += 1
            if j - i + 1 >= burst:
                bursts.append(
                    {
                        "service": service,
                        "count": j - i + 1,
                        "since": iso(items[i]["finished_at"]),
                        "until": iso(items[j]["finished_at"]),
                        "rollbacks": [d["id"] for d in items[i : j + 1]],
                    }
                )
                i = j + 1
            else:
                i += 1
    weekly = Counter(
        (d["finished_at"] - timedelta(days=d["finished_at"].weekday())).date() for d in rollbacks
    )
    return {
        "rollbacks": len(rollbacks),
        "by_service": dict(Counter(d["service"] for d in rollbacks).most_common()),
        "busiest_week": next({"week": str(w), "rollbacks": n} for w, n in weekly.most_common(1))
        if weekly
        else None,
        "bursts": bursts,
        "burst_rule": f"{burst} or more rollbacks of one service within {window_days:g} days",
    }


def _size_bucket(lines: int) -> str:
    for limit, name in SIZE_BUCKETS:
        if lines <= limit:
            return name
    return SIZE_BUCKETS[-1][1]


def concentration(items: list[dict[str, Any]], key: Any, hit: Any, unit: str) -> dict[str, Any]:
    """Share of hits (failures, defects) per value of `key` against the share of items.

    The index is the total-variation distance between the two distributions: 0 when hits fall
    where the items are, 1 when every hit lands where almost nothing else happens.
    """
    total = Counter(key(i) for i in items)
    hits = Counter(key(i) for i in items if hit(i))
    n_hits, n = sum(hits.values()), sum(total.values())
    groups = [
        {
            "value": v,
            unit: total[v],
            "hits": hits[v],
            "rate": _share(hits[v], total[v]),
            "share_of_hits": _share(hits[v], n_hits),
        }
        for v in sorted(total, key=lambda v: (-hits[v], str(v)))
    ]
    if n_hits < MIN_FAILURES:
        return {
            "index": None,
            "groups": groups,
            "note": f"a concentration index needs at least {MIN_FAILURES} hits; there are {n_hits}",
        }
    if len(total) == 1:
        # every release on one weekday (or in one service): the calendar, not a cluster
        return {
            "index": None,
            "groups": groups,
            "note": f"every one of the {n} {unit} has the same value ({next(iter(total))}): "
            "nothing to compare, so no cluster is reported",
        }
    index = 0.5 * sum(abs(hits[v] / n_hits - total[v] / n) for v in total)
    return {"index": round(index, 4), "groups": groups, "note": None}


def failure_concentration(rows: Rows, teams: dict[str, str]) -> dict[str, Any]:
    deps = [d for d in rows.deployments if d["kind"] != "rollback"]
    failed = lambda d: d["failed"]  # noqa: E731
    dims = {
        "service": lambda d: d["service"],
        "team": lambda d: teams.get(d["service"], "(no team)"),
        "weekday": lambda d: WEEKDAYS[d["finished_at"].weekday()],
        "hour": lambda d: d["finished_at"].hour,
        "size": lambda d: _size_bucket(int(d["lines"])),
    }
    out = {name: concentration(deps, key, failed, "deployments") for name, key in dims.items()}
    worst = (
        max((v["index"], k) for k, v in out.items() if v["index"] is not None)
        if any(v["index"] is not None for v in out.values())
        else None
    )
    return {
        "failures": sum(1 for d in deps if d["failed"]),
        "deployments": len(deps),
        "by": out,
        "most_concentrated": worst[1] if worst else None,
        "failed_deployments": [d["id"] for d in deps if d["failed"]][:100],
    }


def escaped_defects(rows: Rows) -> dict[str, Any]:
    ships = _shipping(rows)
    per_service = Counter(d["service"] for d in ships)
    defect_service = Counter(d["service"] for d in rows.defects)
    n = len(rows.defects)
    groups = [
        {
            "value": s,
            "deployments": per_service[s],
            "defects": defect_service[s],
            "per_deployment": _share(defect_service[s], per_service[s]),
            "share_of_defects": _share(defect_service[s], n),
        }
        for s in sorted(
            set(per_service) | set(defect_service), key=lambda s: (-defect_service[s], s)
        )
    ]
    index = None
    note = None
    if n >= MIN_FAILURES and ships:
        index = round(
            0.5
            * sum(
                abs(defect_service[s] / n - per_service[s] / len(ships))
                for s in set(per_service) | set(defect_service)
            ),
            4,
        )
    else:
        note = f"a clustering index needs at least {MIN_FAILURES} defects; there are {n}"
    weekly = Counter(
        (d["found_at"] - timedelta(days=d["found_at"].weekday())).date() for d in rows.defects
    )
    return {
        "defects": n,
        "per_deployment": _share(n, len(ships)),
        "index": index,
        "note": note,
        "by_service": groups,
        "by_severity": dict(Counter(d["severity"] or "unknown" for d in rows.defects)),
        "by_week": {str(w): c for w, c in sorted(weekly.items())},
        "records": [d["id"] for d in rows.defects][:100],
    }


def incident_themes(rows: Rows, period: Period) -> dict[str, Any]:
    middle = period.since + (period.until - period.since) / 2
    themes: dict[str, dict[str, Any]] = {}
    for i in rows.incidents:
        for label in i["labels"] or ["(unlabelled)"]:
            t = themes.setdefault(
                label,
                {
                    "theme": label,
                    "incidents": 0,
                    "first_half": 0,
                    "second_half": 0,
                    "attributed": 0,
                    "records": [],
                },
            )
            t["incidents"] += 1
            t["first_half" if i["opened_at"] < middle else "second_half"] += 1
            t["attributed"] += 1 if i["deployment_id"] else 0
            t["records"].append(i["id"])
    ordered = sorted(themes.values(), key=lambda t: (-t["incidents"], t["theme"]))
    n = len(rows.incidents)
    return {
        "incidents": n,
        "attributed": sum(1 for i in rows.incidents if i["deployment_id"]),
        "themes": [{**t, "share": _share(t["incidents"], n)} for t in ordered],
    }


def rework_trend(rows: Rows, period: Period, by: str) -> dict[str, Any]:
    trend = []
    for start in bucket_starts(period, by):
        end = next_start(start, by)
        part = [d for d in rows.deployments if start <= d["finished_at"] < end]
        rework = sum(d["rework"] for d in part)
        trend.append(
            {
                "since": iso(max(start, period.since)),
                "deployments": len(part),
                "rework": rework,
                "rate": _share(rework, len(part)),
                "failed": sum(1 for d in part if d["failed"]),
            }
        )
    total = sum(d["rework"] for d in rows.deployments)
    return {
        "deployments": len(rows.deployments),
        "rework": total,
        "rate": _share(total, len(rows.deployments)),
        "by": by,
        "trend": trend,
    }


def ai_assisted(rows: Rows, rule: AiRule) -> dict[str, Any]:
    groups: dict[str, list[dict[str, Any]]] = {"ai_assisted": [], "other": []}
    for c in rows.changes:
        ai = rule.matches(c["labels"], c["author"], c["title"])
        groups["ai_assisted" if ai else "other"].append(c)
    out: dict[str, Any] = {"rule": rule.to_json()}
    for name, items in groups.items():
        n = len(items)
        out[name] = {
            "changes": n,
            "lines": describe([c["lines"] for c in items], "changes", ""),
            "lead_time": _leads(items),
            "failure_rate": _share(sum(c["failed"] for c in items), n) if n >= MIN_GROUP else None,
            "rework_rate": _share(sum(c["reverted"] for c in items), n) if n >= MIN_GROUP else None,
            "note": None
            if n >= MIN_GROUP
            else f"rates need at least {MIN_GROUP} changes; there are {n}",
        }
    out["records"] = [c["id"] for c in groups["ai_assisted"]][:100]
    return out


def _mean(values: list[float]) -> float | None:
    return sum(values) / len(values) if values else None


def _share(part: int | float, whole: int | float) -> float | None:
    return round(part / whole, 4) if whole else None


def _round(value: float | None, digits: int = 4) -> float | None:
    return None if value is None else round(value, digits)


# -- the document ----------------------------------------------------------------------------


def compute(
    store: Store,
    defn: Definition,
    scope: Scope,
    period: Period,
    *,
    by: str = "week",
    ai: AiRule | None = None,
    members: list[tuple[str, str]] | None = None,
) -> dict[str, Any]:
    """Every friction signal for a scope and period: the JSON contract of `headway signals`."""
    services = members if members is not None else services_in(store, scope)
    names = [s for s, _ in services]
    contexts = sorted({c for _, c in services})
    rows = load(store, defn, names, period)
    teams = dict(store.query("SELECT name, COALESCE(team, '(no team)') FROM services"))
    warnings = []
    if not rows.deployments and not rows.changes and not rows.incidents:
        warnings.append(
            f"no deployments, changes or incidents in {scope.describe()} between "
            f"{period.since:%Y-%m-%d} and {period.until:%Y-%m-%d}"
        )
    if len(contexts) > 1:
        warnings.append(
            f"These signals blend {len(contexts)} operating contexts "
            f"({', '.join(contexts)}); see each with --each context."
        )
    latency = approval_latency(rows)
    variance = lead_time_variance(rows, period, by)
    friction = deployment_friction(rows)
    # Spans left out for running backwards are told where the table shows warnings, too
    # (describe_spans appends that note last).
    for figure in (*latency.values(), variance, friction["duration"]):
        if figure["negative"]:
            warnings.append(figure["notes"][-1])
    return {
        "definition": {"name": defn.name, "version": defn.version},
        "scope": {"kind": scope.kind, "name": scope.name, "services": names, "contexts": contexts},
        "period": {"since": iso(period.since), "until": iso(period.until)},
        "approval_latency": latency,
        "batch_size": batch_size(rows),
        "lead_time_variance": variance,
        "deployment_friction": friction,
        "rollback_clustering": rollback_clustering(rows),
        "failure_concentration": failure_concentration(rows, teams),
        "escaped_defects": escaped_defects(rows),
        "incident_themes": incident_themes(rows, period),
        "rework": rework_trend(rows, period, by),
        "ai_assisted": ai_assisted(rows, ai or AiRule()),
        "warnings": warnings,
    }
