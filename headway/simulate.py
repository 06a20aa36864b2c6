"""A simulated organisation, written as canonical JSONL, for demos, tests and benchmarks.

Each service follows an archetype with a recognisable delivery pattern:

- `regulated`: low frequency, large batches, long change-advisory waits, rare failures.
- `healthy`: many small deployments a day, short waits, few failures, fast recovery.
- `speeding`: over the period it deploys more often and merges faster while its change fail
  rate climbs: speed bought by pushing instability downstream.
- `slicing`: a team that splits work into ever more, ever tinier deployments, some of them
  empty, with no better outcomes to show for it.

Four more archetypes plant the patterns Headway's detectors must find. Each drifts into its
pattern during the period (from 40% to 80% of the way through), so a window before the drift
and one after it differ the way a real team's months would:

- `local`: review gets much faster, but the saved time reappears as merge wait (a merge
  queue): one stage faster, end to end unchanged.
- `theatre`: deployments multiply, but the extra ones ship nothing users can see (empty, or
  version bumps and chores); user-visible change per day stays flat.
- `redefined`: failures stop being recorded as failures: they are reported as bugs, or as
  incidents filed late, naming nothing and labelled third-party, and rollbacks become
  redeploys of an earlier version recorded as ordinary deployments.
- `hidden`: rework (reverts, hotfixes) rises while incidents stop being filed.

Randomness for everything added after the first four archetypes comes from a second
generator, so the original archetypes' records are unchanged by the additions.

The output is a pure function of the options: same seed, same lines.
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson

SOURCE = "sim"
HOUR = 3600.0
DAY = 86400.0


@dataclass(frozen=True)
class Archetype:
    name: str
    context: str
    rate: float  # deployments per day, relative to --deploys-per-day
    batch: float  # mean changes per deployment
    change_lines: float  # mean lines changed per change
    coding_h: float
    pickup_h: float
    review_h: float
    approval_h: float  # change-advisory / security wait after review (regulated only)
    merge_wait_h: float
    fail: float  # probability a deployment fails
    recovery_h: float
    empty_share: float = 0.0  # deployments that ship nothing
    ramp: float = 0.0  # speeding: how much faster/failier by the end of the period
    slice_ramp: float = 0.0  # slicing: deployments (and 1/size) grow by 1 + slice_ramp·progress²
    drift: str | None = None  # local | theatre | redefined | hidden (see the module docstring)
    defects: float = 0.01  # escaped defects per deployment that shipped something


ARCHETYPES = {
    "regulated": Archetype("regulated", "regulated", 0.06, 10, 220, 20, 6, 10, 70, 4, 0.05, 3.0),
    "healthy": Archetype(
        "healthy", "customer-facing", 1.0, 1.5, 60, 6, 1.0, 1.5, 0, 0.3, 0.05, 0.6
    ),
    "speeding": Archetype(
        "speeding", "customer-facing", 0.3, 3, 160, 16, 8, 8, 0, 4, 0.06, 2.0, ramp=3.0
    ),
    "slicing": Archetype(
        "slicing",
        "internal",
        1.5,
        0.7,
        40,
        2,
        0.5,
        0.5,
        0,
        0.2,
        0.04,
        1.0,
        empty_share=0.3,
        slice_ramp=3.0,
    ),
    "local": Archetype(
        "local", "customer-facing", 0.5, 2, 80, 8, 3, 12, 0, 2, 0.05, 1.0, drift="local"
    ),
    "theatre": Archetype(
        "theatre", "customer-facing", 0.4, 2, 90, 8, 2, 4, 0, 1, 0.05, 1.0, drift="theatre"
    ),
    "redefined": Archetype(
        "redefined", "customer-facing", 0.4, 2, 100, 8, 2, 4, 0, 1, 0.25, 2.0, drift="redefined"
    ),
    "hidden": Archetype(
        "hidden", "internal", 1.0, 2, 100, 8, 2, 4, 0, 1, 0.06, 2.0, drift="hidden"
    ),
}
# (service, team, archetype) for the first services; more are named after these.
LAYOUT = [
    ("payments-ledger", "payments", "regulated"),
    ("storefront", "web", "healthy"),
    ("search", "growth", "speeding"),
    ("notifications", "messaging", "slicing"),
    ("checkout", "web", "healthy"),
    ("card-gateway", "payments", "regulated"),
    ("recommendations", "growth", "speeding"),
    ("email-digest", "messaging", "slicing"),
    ("billing-api", "billing", "local"),
    ("mobile-api", "mobile", "theatre"),
    ("auth", "identity", "redefined"),
    ("pipelines", "data", "hidden"),
]
# Teams whose archetype plants nothing a detector should find.
HEALTHY_TEAMS = ("web",)
# Team → the detector its archetype plants (docs/detectors.md).
PLANTED = {
    "growth": "speed_outcomes",
    "messaging": "slicing",
    "billing": "local_optimisation",
    "mobile": "theatre",
    "identity": "redefined",
    "data": "hidden_quality",
}


@dataclass(frozen=True)
class Options:
    seed: int = 1
    services: int = 4
    days: int = 120
    deploys_per_day: float = 4.0
    end: datetime = datetime(2026, 11, 1, tzinfo=UTC)


def layout(n: int) -> list[tuple[str, str, str]]:
    out = []
    for i in range(n):
        name, team, kind = LAYOUT[i % len(LAYOUT)]
        out.append((name if i < len(LAYOUT) else f"{name}-{i // len(LAYOUT) + 1}", team, kind))
    return out


def _ts(seconds: float) -> str:
    return datetime.fromtimestamp(round(seconds), UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def generate(
    opts: Options, causes: dict[str, str | None] | None = None
) -> Iterator[dict[str, Any]]:
    """Yield canonical records (dicts with a `type`) for the whole organisation.

    `causes`, when given, receives the true cause of every incident (its record id → the
    deployment that caused it, None for one no deployment caused), which an incident record
    names only some of the time: what attribution rules are measured against."""
    end = opts.end.timestamp()
    start = end - opts.days * DAY
    for index, (service, team, kind) in enumerate(layout(opts.services)):
        arch = ARCHETYPES[kind]
        yield {
            "type": "service",
            "name": service,
            "team": team,
            "context": arch.context,
            "repository": f"acme/{service}",
        }
        rng = random.Random(f"{opts.seed}:{index}")
        extra = random.Random(f"{opts.seed}:{index}:planted")
        yield from _service(rng, service, arch, opts, start, end, extra, causes)


def _drift(arch: Archetype, progress: float) -> float:
    """How far a drifting archetype has moved into its pattern: 0 before 40%, 1 after 80%."""
    if arch.drift is None:
        return 0.0
    return min(1.0, max(0.0, (progress - 0.4) / 0.4))


def _service(
    rng: random.Random,
    service: str,
    arch: Archetype,
    opts: Options,
    start: float,
    end: float,
    extra: random.Random,
    causes: dict[str, str | None] | None = None,
) -> Iterator[dict[str, Any]]:
    truth: dict[str, str | None] = {} if causes is None else causes
    seq = 0

    def ident(prefix: str) -> str:
        nonlocal seq
        seq += 1
        return f"{service}/{prefix}{seq}"

    def ref(source_id: str) -> str:
        return f"{SOURCE}:{source_id}"

    t = start + rng.uniform(0, DAY / max(arch.rate * opts.deploys_per_day, 0.01))
    last_merge = start - DAY
    version = 0
    pending_revert: list[tuple[str, float]] = []
    while t < end:
        progress = (t - start) / (end - start)
        drift = _drift(arch, progress)
        # speeding: more deployments, shorter waits, more failures as the period goes on
        speed = 1.0 + arch.ramp * progress
        fail_p = min(0.6, arch.fail * (1.0 + arch.ramp * 1.6 * progress**1.5))
        if arch.drift == "hidden":
            fail_p = arch.fail * (1.0 + 3.0 * drift)
        slicing = 1.0 + arch.slice_ramp * progress**2
        theatre = 1.0 + 3.0 * drift if arch.drift == "theatre" else 1.0
        rate = arch.rate * opts.deploys_per_day * speed * slicing * theatre
        gap = rng.expovariate(rate / DAY)
        if arch.context == "regulated":
            # release windows: business hours on weekdays only
            t = _next_window(t + gap)
        else:
            t += gap
        if t >= end:
            break
        deploy_id = ident("d")
        version += 1
        deploy_start = t
        deploy_end = t + rng.uniform(3, 15) * 60 * (3 if arch.context == "regulated" else 1)
        n_changes = 0 if rng.random() < arch.empty_share else max(1, _poisson(rng, arch.batch))
        # theatre: the extra deployments ship nothing users can see (empty or a version bump)
        invisible = arch.drift == "theatre" and extra.random() > 1.0 / theatre
        if invisible:
            n_changes = 0
        # changes shipped by this deployment were merged since the previous one
        shipped: list[str] = []
        for _ in range(n_changes):
            for record in _change(
                rng,
                service,
                arch,
                ident,
                ref,
                speed,
                rng.uniform(last_merge, deploy_start - 60),
                deploy_id,
                lines_scale=1.0 / slicing,
                drift=drift,
            ):
                if record["type"] == "change":
                    shipped.append(record["source_id"])
                yield record
        if invisible and extra.random() < 0.5:
            merged = deploy_start - extra.uniform(600, 3600)
            bump = ident("c")
            yield {
                "type": "change",
                "source": SOURCE,
                "source_id": bump,
                "service": service,
                "title": f"Bump version to v{version}",
                "labels": ["chore"],
                "first_commit_at": _ts(merged - 900),
                "opened_at": _ts(merged - 600),
                "merged_at": _ts(merged),
                "additions": 1,
                "deletions": 1,
                "files": 1,
                "deployment_ref": ref(deploy_id),
            }
        while pending_revert:
            reverted, merged = pending_revert.pop()
            merged = min(merged, deploy_start - 60)
            yield {
                "type": "change",
                "source": SOURCE,
                "source_id": ident("c"),
                "service": service,
                "title": "Revert a broken change",
                "is_revert": True,
                "reverts": ref(reverted),
                "first_commit_at": _ts(merged - 600),
                "opened_at": _ts(merged - 500),
                "merged_at": _ts(merged),
                "additions": 20,
                "deletions": 20,
                "files": 2,
                "deployment_ref": ref(deploy_id),
            }
        last_merge = deploy_start
        runs = 1 + (_poisson(rng, 0.8) if arch.context != "healthy" else _poisson(rng, 0.1))
        for r in range(runs):
            yield {
                "type": "pipeline_run",
                "source": SOURCE,
                "source_id": ident("p"),
                "service": service,
                "workflow": "deploy",
                "deployment_ref": ref(deploy_id),
                "started_at": _ts(deploy_start - (runs - r) * 900),
                "finished_at": _ts(deploy_start - (runs - r) * 900 + 600),
                "conclusion": "success" if r == runs - 1 else "failure",
            }
        if arch.context == "regulated":
            wait = rng.uniform(0.5, 2) * arch.approval_h * HOUR
            yield {
                "type": "approval",
                "source": SOURCE,
                "source_id": ident("a"),
                "kind": "deployment_gate",
                "deployment_ref": ref(deploy_id),
                "service": service,
                "requested_at": _ts(deploy_start - wait),
                "decided_at": _ts(deploy_start - 60),
                "decision": "approved",
                "actor": "release-manager",
            }
        yield {
            "type": "deployment",
            "source": SOURCE,
            "source_id": deploy_id,
            "service": service,
            "environment": "production",
            "started_at": _ts(deploy_start),
            "finished_at": _ts(deploy_end),
            "status": "success",
            "kind": "deploy",
            "version": f"v{version}",
            "trigger": "pipeline",
        }
        # escaped defects: rare, except where speed is bought with instability
        if shipped and extra.random() < arch.defects * (1.0 + 4.0 * arch.ramp * progress**1.5):
            yield {
                "type": "defect",
                "source": SOURCE,
                "source_id": f"{deploy_id}/defect",
                "service": service,
                "found_at": _ts(deploy_end + extra.uniform(0.5, 10) * DAY),
                "severity": extra.choice(["minor", "major"]),
                "title": "Customer-reported bug",
                "deployment_ref": ref(deploy_id),
            }
        if n_changes and rng.random() < fail_p:
            recovery = rng.lognormvariate(math.log(arch.recovery_h * HOUR), 0.7)
            mode = rng.choices(["incident", "rollback", "hotfix", "revert"], [4, 3, 2, 1])[0]
            fixed = deploy_end + recovery
            quiet = arch.drift == "hidden" and extra.random() < drift
            redefined = arch.drift == "redefined" and extra.random() < drift
            if quiet:
                # fixed quietly: a revert or a hotfix, no incident filed
                mode = "revert" if extra.random() < 0.6 else "hotfix"
            if redefined:
                # not recorded as a failure: reported as a bug, or as a provider problem filed
                # late and naming nothing; a rollback becomes a redeploy of the previous version
                # recorded as an ordinary deployment
                found = deploy_end + extra.uniform(30, 90) * HOUR
                if found < end and extra.random() < 0.7:
                    yield {
                        "type": "defect",
                        "source": SOURCE,
                        "source_id": f"{deploy_id}/bug",
                        "service": service,
                        "found_at": _ts(found),
                        "severity": "major",
                        "title": "Customer-reported bug",
                    }
                elif found < end:
                    incident_id = ident("i")
                    # filed as a provider problem, but this deployment caused it
                    truth[ref(incident_id)] = ref(deploy_id)
                    yield {
                        "type": "incident",
                        "source": SOURCE,
                        "source_id": incident_id,
                        "service": service,
                        "opened_at": _ts(found),
                        "resolved_at": _ts(found + recovery),
                        "severity": "sev3",
                        "customer_impact": True,
                        "title": "Upstream provider issue",
                        "labels": ["third-party"],
                    }
                if mode in ("rollback", "hotfix"):
                    yield {
                        "type": "deployment",
                        "source": SOURCE,
                        "source_id": ident("d"),
                        "service": service,
                        "environment": "production",
                        "started_at": _ts(fixed - 300),
                        "finished_at": _ts(fixed),
                        "status": "success",
                        "kind": "deploy",
                        "version": f"v{version - 1}",
                        "trigger": "manual",
                    }
                    t = max(t, fixed)
                mode = "none"
            if mode in ("incident", "hotfix", "rollback") and not quiet:
                named = rng.random() < 0.6
                incident_id = ident("i")
                truth[ref(incident_id)] = ref(deploy_id)
                yield {
                    "type": "incident",
                    "source": SOURCE,
                    "source_id": incident_id,
                    "service": service,
                    "opened_at": _ts(deploy_end + recovery * 0.1),
                    "acknowledged_at": _ts(deploy_end + recovery * 0.2),
                    "resolved_at": _ts(fixed),
                    "severity": rng.choice(["sev2", "sev3"]),
                    "customer_impact": True,
                    "title": rng.choice(["Checkout errors", "Slow pages", "Timeouts", "Bad data"]),
                    "labels": [rng.choice(["latency", "errors", "data", "config"])],
                    **({"cause_ref": ref(deploy_id)} if named else {}),
                }
            if mode in ("rollback", "hotfix"):
                fix_id = ident("d")
                if mode == "hotfix":
                    yield from _change(
                        rng, service, arch, ident, ref, 4.0, fixed - 1800, fix_id, title="Hotfix"
                    )
                yield {
                    "type": "deployment",
                    "source": SOURCE,
                    "source_id": fix_id,
                    "service": service,
                    "environment": "production",
                    "started_at": _ts(fixed - 300),
                    "finished_at": _ts(fixed),
                    "status": "success",
                    "kind": mode,
                    "recovers": ref(deploy_id),
                    "trigger": "manual",
                }
                t = max(t, fixed)
            if mode == "revert":
                # the broken change is reverted and ships with the next deployment
                pending_revert.append((rng.choice(shipped), deploy_end + recovery * 0.5))
        # background incidents with no cause (infrastructure, third parties)
        if rng.random() < 0.02:
            opened = t + rng.uniform(2, 20) * DAY
            if opened < end:
                incident_id = ident("i")
                truth[ref(incident_id)] = None
                yield {
                    "type": "incident",
                    "source": SOURCE,
                    "source_id": incident_id,
                    "service": service,
                    "opened_at": _ts(opened),
                    "resolved_at": _ts(opened + rng.uniform(0.3, 4) * HOUR),
                    "severity": "sev3",
                    "customer_impact": False,
                    "title": "Provider outage",
                    "labels": ["third-party"],
                }


def _change(
    rng: random.Random,
    service: str,
    arch: Archetype,
    ident: Any,
    ref: Any,
    speed: float,
    merged: float,
    deploy_id: str,
    title: str | None = None,
    lines_scale: float = 1.0,
    drift: float = 0.0,
) -> Iterator[dict[str, Any]]:
    def wait(hours: float) -> float:
        return rng.expovariate(1 / max(hours * HOUR / speed, 1.0))

    review_h, merge_h = arch.review_h, arch.merge_wait_h
    if arch.drift == "local":
        # review is pushed to be fast; what it saves queues up waiting to merge
        review_h, merge_h = review_h * (1 - 0.8 * drift), merge_h + review_h * 0.8 * drift
    merge_wait = wait(merge_h)
    approved = merged - merge_wait
    approval = wait(arch.approval_h) if arch.approval_h else 0.0
    reviewed = approved - approval - wait(review_h)
    opened = reviewed - wait(arch.pickup_h)
    first_commit = opened - wait(arch.coding_h)
    lines = max(1, int(rng.expovariate(1 / (arch.change_lines * lines_scale))))
    change_id = ident("c")
    change: dict[str, Any] = {
        "type": "change",
        "source": SOURCE,
        "source_id": change_id,
        "service": service,
        "repository": f"acme/{service}",
        "author": f"dev{rng.randint(1, 12)}",
        "number": int(change_id.rsplit("c", 1)[1]),
        "title": title or "Change",
        "first_commit_at": _ts(first_commit),
        "opened_at": _ts(opened),
        "first_review_at": _ts(reviewed),
        "approved_at": _ts(approved),
        "merged_at": _ts(merged),
        "additions": int(lines * 0.7) + 1,
        "deletions": lines // 3,
        "files": 1 + lines // 40,
        "deployment_ref": ref(deploy_id),
    }
    if rng.random() < 0.15:
        change["labels"] = ["ai-assisted"]
    yield change
    yield {
        "type": "approval",
        "source": SOURCE,
        "source_id": ident("a"),
        "kind": "code_review",
        "change_ref": ref(change_id),
        "service": service,
        "requested_at": _ts(opened),
        "decided_at": _ts(approved),
        "decision": "approved",
        "actor": "reviewer",
    }
    if arch.approval_h:
        yield {
            "type": "approval",
            "source": SOURCE,
            "source_id": ident("a"),
            "kind": "change_advisory",
            "change_ref": ref(change_id),
            "service": service,
            "requested_at": _ts(approved - approval),
            "decided_at": _ts(approved),
            "decision": "approved",
            "actor": "cab",
        }


def _poisson(rng: random.Random, mean: float) -> int:
    limit, k, p = math.exp(-mean), 0, 1.0
    while True:
        p *= rng.random()
        if p <= limit:
            return k
        k += 1


def _next_window(t: float) -> float:
    """Move t into the next weekday 09:00–17:00 UTC window."""
    moment = datetime.fromtimestamp(t, UTC)
    while moment.weekday() >= 5 or not 9 <= moment.hour < 17:
        moment = (moment + timedelta(hours=1)).replace(minute=0, second=0)
    return moment.timestamp()


def write_jsonl(opts: Options, out: Any) -> int:
    """Write the organisation to a binary file object; return the number of lines."""
    n = 0
    for record in generate(opts):
        out.write(orjson.dumps(record) + b"\n")
        n += 1
    return n
