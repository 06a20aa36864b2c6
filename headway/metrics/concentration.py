"""Where failures, escaped defects and incidents cluster: by service, team, weekday, hour and
size, against where the deployments are, and the themes incidents share.
"""

from __future__ import annotations

from collections import Counter
from datetime import timedelta
from typing import Any

from headway.metrics.scope import Period
from headway.metrics.signal_rows import Rows, share, shipping

MIN_FAILURES = 5  # below this a concentration index says more about chance than about risk


SIZE_BUCKETS = (
    (0, "empty"),
    (10, "1–10 lines"),
    (100, "11–100"),
    (500, "101–500"),
    (10**12, "over 500"),
)


WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


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
            "rate": share(hits[v], total[v]),
            "share_of_hits": share(hits[v], n_hits),
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
    ships = shipping(rows)
    per_service = Counter(d["service"] for d in ships)
    defect_service = Counter(d["service"] for d in rows.defects)
    n = len(rows.defects)
    groups = [
        {
            "value": s,
            "deployments": per_service[s],
            "defects": defect_service[s],
            "per_deployment": share(defect_service[s], per_service[s]),
            "share_of_defects": share(defect_service[s], n),
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
    reason = (
        None
        if rows.defects_recorded
        else "no defect was ever recorded for these services: connect an issue tracker "
        "(docs/webhooks.md) or import defects (docs/jsonl.md)"
    )
    return {
        "defects": n,
        "per_deployment": None if reason else share(n, len(ships)),
        "index": index,
        "note": None if reason else note,
        "reason": reason,
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
        "reason": None
        if rows.incidents_recorded
        else "no incident was ever recorded for these services: connect PagerDuty or "
        "Opsgenie (docs/webhooks.md) or import incidents (docs/jsonl.md)",
        "attributed": sum(1 for i in rows.incidents if i["deployment_id"]),
        "themes": [{**t, "share": share(t["incidents"], n)} for t in ordered],
    }
