"""Drill-down: the records behind the numbers, each with the facts derived for it."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from headway.definitions import Definition
from headway.metrics.links import PUBLIC, Bases, change_url, commit_url, host_of, page_url
from headway.metrics.queries import records as queries
from headway.metrics.record_reads import RecordSource, StoreRecords
from headway.metrics.refine import Refinement
from headway.metrics.scope import Period, Scope
from headway.model import list_of
from headway.store import Store


def iso(value: datetime | None) -> str | None:
    if value is None:
        return None
    return value.replace(tzinfo=UTC).isoformat().replace("+00:00", "Z")


def total(
    store: Store,
    kind: str,
    defn: Definition,
    scope: Scope,
    period: Period,
    refine: Refinement | None = None,
    *,
    source: RecordSource | None = None,
) -> int:
    """How many rows the list of `kind` holds under `refine`."""
    reads = source or StoreRecords(store)
    names = reads.names(scope)
    if not names:
        return 0
    return reads.total(kind, defn, names, period.since, period.until, refine)


def deployments(
    store: Store,
    defn: Definition,
    scope: Scope,
    period: Period,
    limit: int | None = None,
    offset: int = 0,
    refine: Refinement | None = None,
    bases: Bases = PUBLIC,
    *,
    source: RecordSource | None = None,
) -> list[dict[str, Any]]:
    """Counted deployments with failed, reason, evidence, recovered_at, changes and rework,
    and the link to the commit each deployed (on the hosts at `bases`). The rows are read
    from `source` (the store's statements unless an engine's are given); the repositories'
    hosts always from the store."""
    reads = source or StoreRecords(store)
    return _deployments(store, reads, defn, scope, period, (limit, offset), refine, bases)[0]


def deployments_and_total(
    store: Store,
    defn: Definition,
    scope: Scope,
    period: Period,
    limit: int | None = None,
    offset: int = 0,
    refine: Refinement | None = None,
    bases: Bases = PUBLIC,
    *,
    source: RecordSource | None = None,
) -> tuple[list[dict[str, Any]], int]:
    """A page of `deployments` and `total`'s count of the whole list, the count read with
    the page (a filter on failures blames the store's incidents once, not twice); only a
    page past the end counts apart."""
    reads = source or StoreRecords(store)
    page = (limit, offset)
    rows, listed = _deployments(store, reads, defn, scope, period, page, refine, bases, True)
    if listed is None:
        listed = (
            total(store, "deployments", defn, scope, period, refine, source=reads) if offset else 0
        )
    return rows, listed


def _deployments(
    store: Store,
    reads: RecordSource,
    defn: Definition,
    scope: Scope,
    period: Period,
    page: tuple[int | None, int],
    refine: Refinement | None,
    bases: Bases,
    counted: bool = False,
) -> tuple[list[dict[str, Any]], int | None]:
    names = reads.names(scope)
    if not names:
        return [], 0
    window = (period.since, period.until)
    rows = reads.rows("deployments", defn, names, *window, page, refine, counted)
    ids = [r["id"] for r in rows]
    evidence: dict[str, list[dict[str, Any]]] = {}
    shipped: dict[str, list[str]] = {}
    reverts: dict[str, list[dict[str, Any]]] = {}
    for chunk in _chunks(ids):
        for dep, reason, ev, fixed, by in reads.evidence(defn, chunk):
            evidence.setdefault(dep, []).append(
                {"rule": reason, "record": ev, "fixed_at": iso(fixed), "fixed_by": by}
            )
        for fix, revert, repaired in reads.reverts(chunk):
            reverts.setdefault(fix, []).append(
                {"rule": "revert", "record": revert, "repairs": repaired}
            )
        for dep, change in reads.shipped(chunk):
            shipped.setdefault(dep, []).append(change)
    known = _hosts(store, [r["repository"] for r in rows])
    out = []
    for r in rows:
        host = host_of(r["source"], known.get(r["repository"] or ""))
        ev = evidence.get(r["id"], [])
        fixes = sorted((e["fixed_at"], e["fixed_by"] or "") for e in ev if e["fixed_at"])
        out.append(
            {
                "id": r["id"],
                "service": r["service"],
                "environment": r["environment"],
                "kind": r["kind"],
                "status": r["status"],
                "version": r["version"],
                "sha": r["sha"],
                "url": commit_url(host, r["repository"], r["sha"], bases),
                "started_at": iso(r["started_at"]),
                "finished_at": iso(r["finished_at"]),
                "failed": bool(ev),
                "failure_reason": ev[0]["rule"] if ev else None,
                "evidence": ev,
                "recovered_at": fixes[0][0] if fixes else None,
                "recovered_by": (fixes[0][1] or None) if fixes else None,
                "recovers": r["recovers_id"],
                "changes": shipped.get(r["id"], []),
                "rework": bool(r["rework"]),
                "rework_evidence": _rework_evidence(r, reverts.get(r["id"], [])),
            }
        )
    return out, (int(rows[0]["listed"]) if rows and counted else None)


def _rework_evidence(row: dict[str, Any], reverts: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Why a deployment is rework (`queries.failure.rework`), naming the records: the failed
    deployment it rolls back or hotfixes, and each revert it ships with the deployment that
    shipped the reverted change. Empty for a deployment that is not rework."""
    if not row["rework"]:
        return []
    repair = []
    if row["recovers_id"]:
        rule = row["kind"] if row["kind"] in ("rollback", "hotfix") else "repair"
        repair.append({"rule": rule, "record": row["recovers_id"], "repairs": row["recovers_id"]})
    return [*repair, *reverts]


def changes(
    store: Store,
    defn: Definition,
    scope: Scope,
    period: Period,
    limit: int | None = None,
    offset: int = 0,
    refine: Refinement | None = None,
    bases: Bases = PUBLIC,
    *,
    source: RecordSource | None = None,
) -> list[dict[str, Any]]:
    """Changes merged in the period, with the deployment that shipped them, lead time and
    the link to the request or commit (on the hosts at `bases`), read from `source` as
    `deployments` are.

    Only a deployment the definition counts (and lets ship) is reported as the one that
    shipped a change: a staging or failed deployment a source named shipped nothing."""
    reads = source or StoreRecords(store)
    names = reads.names(scope)
    if not names:
        return []
    page = (limit, offset)
    rows = reads.rows("changes", defn, names, period.since, period.until, page, refine)
    known = _hosts(store, [r["repository"] for r in rows])
    for r in rows:
        sent_by, repository, sha = r.pop("source"), r.pop("repository"), r.pop("merge_sha")
        host = host_of(sent_by, known.get(repository or ""))
        # A request number is the host's only when the host sent the change: another source
        # (a git import without `--host`) read it from a commit message; its sha is certain.
        number = r["number"] if sent_by == host else None
        r["url"] = change_url(host, repository, number, sha, bases)
        for key in ("first_commit_at", "opened_at", "merged_at", "deployed_at"):
            r[key] = iso(r[key])
        r["is_revert"] = bool(r["is_revert"])
        r["lead_time_s"] = None if r["lead_time_s"] is None else round(float(r["lead_time_s"]), 3)
    return rows


def incidents(
    store: Store,
    defn: Definition,
    scope: Scope,
    period: Period,
    limit: int | None = None,
    offset: int = 0,
    refine: Refinement | None = None,
    *,
    source: RecordSource | None = None,
) -> list[dict[str, Any]]:
    """Incidents opened in the period, with the deployment `defn` blames and by which rule:
    the same blame the metrics count as failures (read from `source` as `deployments`)."""
    reads = source or StoreRecords(store)
    names = reads.names(scope)
    if not names:
        return []
    page = (limit, offset)
    rows = reads.rows("incidents", defn, names, period.since, period.until, page, refine)
    rules = attribution_rules(defn)
    for r in rows:
        for key in ("opened_at", "acknowledged_at", "resolved_at"):
            r[key] = iso(r[key])
        r["labels"] = list_of(r["labels"])
        r["attribution_rule"] = rules[r["attribution"] or "none"]
        r["url"] = page_url(r.pop("url"))  # last, in the order the API sends the fields
    return rows


def attribution_rules(defn: Definition) -> dict[str, str]:
    """What each `attribution` value of a listed incident means under `defn`'s rule."""
    rule = defn.attribution
    if rule.rule == "latest_before":
        preceding = "latest production deployment of the service before the incident opened"
        nothing = "no production deployment of the service before the incident opened"
    else:
        within = _hours(rule.window_hours)
        preceding = (
            f"latest production deployment of the service finished within {within} before "
            "the incident opened"
        )
        nothing = (
            "the incident names no deployment"
            if rule.rule == "named"
            else f"no deployment within the attribution window ({within})"
        )
    return {
        "named": "the incident names this deployment as its cause",
        "window": preceding,
        "none": nothing,
    }


def _hours(hours: float) -> str:
    minutes = round(hours * 60)
    if minutes % 60:
        return f"{minutes} min"
    return f"{minutes // 60} h"


def _hosts(store: Store, repositories: list[str | None]) -> dict[str, str]:
    """The one host each repository was seen on; one seen on both has none."""
    wanted = sorted({r for r in repositories if r})
    seen: dict[str, set[str]] = {}
    for chunk in _chunks(wanted):
        for repository, host in queries.host_rows(store, chunk):
            seen.setdefault(repository, set()).add(host)
    return {r: next(iter(h)) for r, h in seen.items() if len(h) == 1}


def _chunks(values: list[str], size: int = 1000) -> list[list[str]]:
    return [values[i : i + size] for i in range(0, len(values), size)]
