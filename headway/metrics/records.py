"""Drill-down: the records behind the numbers, each with the facts derived for it."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from headway.definitions import Definition
from headway.metrics import sql as q
from headway.metrics.refine import Refinement, clauses
from headway.metrics.scope import Period, Scope, services_in
from headway.model import list_of
from headway.store import Store


def iso(value: datetime | None) -> str | None:
    if value is None:
        return None
    return value.replace(tzinfo=UTC).isoformat().replace("+00:00", "Z")


def _page(limit: int | None, offset: int) -> str:
    return (f"LIMIT {int(limit)}" if limit else "") + (f" OFFSET {int(offset)}" if offset else "")


def _marks(values: list[str]) -> str:
    return ", ".join("?" for _ in values)


def _refined(
    kind: str, inner: str, own_order: str, refine: Refinement | None
) -> tuple[str, str, list[str]]:
    """The list's query as a table with the refinement's conditions, and its ORDER BY."""
    extra, order, params = clauses(kind, (refine or Refinement()).check(kind), own_order)
    return f"SELECT * FROM ({inner}) x WHERE 1 = 1{extra}", order, params


def total(
    store: Store,
    kind: str,
    defn: Definition,
    scope: Scope,
    period: Period,
    refine: Refinement | None = None,
) -> int:
    """How many rows the list of `kind` holds under `refine`."""
    names = [s for s, _ in services_in(store, scope)]
    if not names:
        return 0
    if kind == "deployments":
        # A count reads neither order nor columns: only what its filter needs is joined.
        counted = Refinement((refine or Refinement()).only, (refine or Refinement()).search)
        inner, params = _deployments_inner(defn, names, period, counted, counting=True)
    elif kind == "changes":
        inner, params = _changes_inner(defn, names, period)
    else:
        inner, params = _incidents_inner(names, period)
    query, _, more = _refined(kind, inner, "1", refine)
    return int(store.query(f"SELECT COUNT(*) FROM ({query}) n", [*params, *more])[0][0])


def _deployments_inner(
    defn: Definition,
    names: list[str],
    period: Period,
    refine: Refinement,
    *,
    counting: bool = False,
) -> tuple[str, list[Any]]:
    # Failures are joined only when the refinement reads them, and rework only when it or
    # the rows do: each costs a pass over the whole store's deployments or evidence.
    rework = (
        ("FALSE AS rework", "")
        if counting and refine.only != "rework"
        else (
            "CASE WHEN rw.id IS NOT NULL THEN TRUE ELSE FALSE END AS rework",
            f"LEFT JOIN (SELECT DISTINCT id FROM ({q.rework()}) r) rw ON rw.id = d.id",
        )
    )
    failures = (
        ", CASE WHEN f.deployment_id IS NULL THEN 0 ELSE 1 END AS has_failure, "
        "f.first_fix AS first_fix",
        f"LEFT JOIN ({q.failures(defn)}) f ON f.deployment_id = d.id",
    )
    columns, join = failures if refine.needs_failures() else ("", "")
    return (
        f"""
        SELECT d.id, d.service, d.environment, d.kind, d.status, d.version, d.sha,
               d.started_at, d.finished_at, d.recovers_id, {rework[0]}{columns}
        FROM deployments d {rework[1]}
        {join}
        WHERE {q.counted_deployments(defn)} AND d.finished_at >= ? AND d.finished_at < ?
          AND d.service IN ({_marks(names)})
        """,
        [period.since, period.until, *names],
    )


def deployments(
    store: Store,
    defn: Definition,
    scope: Scope,
    period: Period,
    limit: int | None = None,
    offset: int = 0,
    refine: Refinement | None = None,
) -> list[dict[str, Any]]:
    """Counted deployments with failed, reason, evidence, recovered_at, changes and rework."""
    names = [s for s, _ in services_in(store, scope)]
    if not names:
        return []
    inner, params = _deployments_inner(defn, names, period, refine or Refinement())
    query, order, more = _refined("deployments", inner, "finished_at, id", refine)
    rows = store.query_dicts(f"{query} ORDER BY {order} {_page(limit, offset)}", [*params, *more])
    ids = [r["id"] for r in rows]
    evidence: dict[str, list[dict[str, Any]]] = {}
    shipped: dict[str, list[str]] = {}
    for chunk in _chunks(ids):
        for dep, reason, ev, fixed in store.query(
            f"SELECT deployment_id, reason, evidence, fixed_at FROM ({q.evidence(defn)}) e "
            f"WHERE deployment_id IN ({_marks(chunk)}) ORDER BY deployment_id, reason, evidence",
            chunk,
        ):
            evidence.setdefault(dep, []).append(
                {"rule": reason, "record": ev, "fixed_at": iso(fixed)}
            )
        for dep, change in store.query(
            f"SELECT deployment_id, id FROM changes WHERE deployment_id IN ({_marks(chunk)}) ORDER BY id",
            chunk,
        ):
            shipped.setdefault(dep, []).append(change)
    out = []
    for r in rows:
        ev = evidence.get(r["id"], [])
        fixes = [e["fixed_at"] for e in ev if e["fixed_at"]]
        out.append(
            {
                "id": r["id"],
                "service": r["service"],
                "environment": r["environment"],
                "kind": r["kind"],
                "status": r["status"],
                "version": r["version"],
                "sha": r["sha"],
                "started_at": iso(r["started_at"]),
                "finished_at": iso(r["finished_at"]),
                "failed": bool(ev),
                "failure_reason": ev[0]["rule"] if ev else None,
                "evidence": ev,
                "recovered_at": min(fixes) if fixes else None,
                "recovers": r["recovers_id"],
                "changes": shipped.get(r["id"], []),
                "rework": bool(r["rework"]),
            }
        )
    return out


def _changes_inner(defn: Definition, names: list[str], period: Period) -> tuple[str, list[Any]]:
    return (
        f"""
        SELECT c.id, c.service, c.number, c.title, c.author, c.first_commit_at, c.opened_at,
               c.merged_at, c.is_revert, c.reverts, c.additions, c.deletions, c.files,
               d.id AS deployment_id, d.finished_at AS deployed_at,
               CASE WHEN d.id IS NULL OR NOT {q.lead_changes(defn)} THEN NULL
                    ELSE {q.lead_time(defn)} END AS lead_time_s
        FROM changes c LEFT JOIN deployments d ON d.id = c.deployment_id
            AND {q.counted_deployments(defn)} AND {q.ships(defn)}
        WHERE c.merged_at >= ? AND c.merged_at < ? AND c.service IN ({_marks(names)})
        """,
        [period.since, period.until, *names],
    )


def changes(
    store: Store,
    defn: Definition,
    scope: Scope,
    period: Period,
    limit: int | None = None,
    offset: int = 0,
    refine: Refinement | None = None,
) -> list[dict[str, Any]]:
    """Changes merged in the period, with the deployment that shipped them and lead time.

    Only a deployment the definition counts (and lets ship) is reported as the one that
    shipped a change: a staging or failed deployment a source named shipped nothing."""
    names = [s for s, _ in services_in(store, scope)]
    if not names:
        return []
    inner, params = _changes_inner(defn, names, period)
    query, order, more = _refined("changes", inner, "merged_at, id", refine)
    rows = store.query_dicts(f"{query} ORDER BY {order} {_page(limit, offset)}", [*params, *more])
    for r in rows:
        for key in ("first_commit_at", "opened_at", "merged_at", "deployed_at"):
            r[key] = iso(r[key])
        r["is_revert"] = bool(r["is_revert"])
        r["lead_time_s"] = None if r["lead_time_s"] is None else round(float(r["lead_time_s"]), 3)
    return rows


def _incidents_inner(names: list[str], period: Period) -> tuple[str, list[Any]]:
    # Incidents are attributed when stored: no definition changes which rows they are.
    return (
        f"""
        SELECT id, service, title, severity, opened_at, acknowledged_at, resolved_at,
               deployment_id, attribution, labels
        FROM incidents WHERE opened_at >= ? AND opened_at < ? AND service IN ({_marks(names)})
        """,
        [period.since, period.until, *names],
    )


def incidents(
    store: Store,
    scope: Scope,
    period: Period,
    limit: int | None = None,
    offset: int = 0,
    refine: Refinement | None = None,
) -> list[dict[str, Any]]:
    """Incidents opened in the period, with the deployment blamed and the rule that did it."""
    names = [s for s, _ in services_in(store, scope)]
    if not names:
        return []
    inner, params = _incidents_inner(names, period)
    query, order, more = _refined("incidents", inner, "opened_at, id", refine)
    rows = store.query_dicts(f"{query} ORDER BY {order} {_page(limit, offset)}", [*params, *more])
    rules = {
        "named": "the incident names this deployment as its cause",
        "window": "latest production deployment of the service before the incident opened",
        "none": "no deployment within the attribution window",
    }
    for r in rows:
        for key in ("opened_at", "acknowledged_at", "resolved_at"):
            r[key] = iso(r[key])
        r["labels"] = list_of(r["labels"])
        r["attribution_rule"] = rules.get(r["attribution"] or "none")
    return rows


def _chunks(values: list[str], size: int = 1000) -> list[list[str]]:
    return [values[i : i + size] for i in range(0, len(values), size)]
