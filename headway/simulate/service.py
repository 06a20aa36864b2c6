"""One simulated service over the period: its deployments, failures, incidents, rollbacks and
defects, and the changes they ship (`changes`).

Randomness for everything added after the first four archetypes comes from a second
generator, so the original archetypes' records are unchanged by the additions.
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterator
from typing import Any

from headway.simulate.archetypes import DAY, HOUR, SOURCE, Archetype, Options
from headway.simulate.changes import change
from headway.simulate.draws import next_window, poisson, ts


def _drift(arch: Archetype, progress: float) -> float:
    """How far a drifting archetype has moved into its pattern: 0 before 40%, 1 after 80%."""
    if arch.drift is None:
        return 0.0
    return min(1.0, max(0.0, (progress - 0.4) / 0.4))


def service_records(
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
            t = next_window(t + gap)
        else:
            t += gap
        if t >= end:
            break
        deploy_id = ident("d")
        version += 1
        deploy_start = t
        deploy_end = t + rng.uniform(3, 15) * 60 * (3 if arch.context == "regulated" else 1)
        n_changes = 0 if rng.random() < arch.empty_share else max(1, poisson(rng, arch.batch))
        # theatre: the extra deployments ship nothing users can see (empty or a version bump)
        invisible = arch.drift == "theatre" and extra.random() > 1.0 / theatre
        if invisible:
            n_changes = 0
        # changes shipped by this deployment were merged since the previous one
        shipped: list[str] = []
        for _ in range(n_changes):
            for record in change(
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
                "first_commit_at": ts(merged - 900),
                "opened_at": ts(merged - 600),
                "merged_at": ts(merged),
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
                "first_commit_at": ts(merged - 600),
                "opened_at": ts(merged - 500),
                "merged_at": ts(merged),
                "additions": 20,
                "deletions": 20,
                "files": 2,
                "deployment_ref": ref(deploy_id),
            }
        last_merge = deploy_start
        runs = 1 + (poisson(rng, 0.8) if arch.context != "healthy" else poisson(rng, 0.1))
        for r in range(runs):
            yield {
                "type": "pipeline_run",
                "source": SOURCE,
                "source_id": ident("p"),
                "service": service,
                "workflow": "deploy",
                "deployment_ref": ref(deploy_id),
                "started_at": ts(deploy_start - (runs - r) * 900),
                "finished_at": ts(deploy_start - (runs - r) * 900 + 600),
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
                "requested_at": ts(deploy_start - wait),
                "decided_at": ts(deploy_start - 60),
                "decision": "approved",
                "actor": "release-manager",
            }
        yield {
            "type": "deployment",
            "source": SOURCE,
            "source_id": deploy_id,
            "service": service,
            "environment": "production",
            "started_at": ts(deploy_start),
            "finished_at": ts(deploy_end),
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
                "found_at": ts(deploy_end + extra.uniform(0.5, 10) * DAY),
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
                        "found_at": ts(found),
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
                        "opened_at": ts(found),
                        "resolved_at": ts(found + recovery),
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
                        "started_at": ts(fixed - 300),
                        "finished_at": ts(fixed),
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
                    "opened_at": ts(deploy_end + recovery * 0.1),
                    "acknowledged_at": ts(deploy_end + recovery * 0.2),
                    "resolved_at": ts(fixed),
                    "severity": rng.choice(["sev2", "sev3"]),
                    "customer_impact": True,
                    "title": rng.choice(["Checkout errors", "Slow pages", "Timeouts", "Bad data"]),
                    "labels": [rng.choice(["latency", "errors", "data", "config"])],
                    **({"cause_ref": ref(deploy_id)} if named else {}),
                }
            if mode in ("rollback", "hotfix"):
                fix_id = ident("d")
                if mode == "hotfix":
                    yield from change(
                        rng, service, arch, ident, ref, 4.0, fixed - 1800, fix_id, title="Hotfix"
                    )
                yield {
                    "type": "deployment",
                    "source": SOURCE,
                    "source_id": fix_id,
                    "service": service,
                    "environment": "production",
                    "started_at": ts(fixed - 300),
                    "finished_at": ts(fixed),
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
                    "opened_at": ts(opened),
                    "resolved_at": ts(opened + rng.uniform(0.3, 4) * HOUR),
                    "severity": "sev3",
                    "customer_impact": False,
                    "title": "Provider outage",
                    "labels": ["third-party"],
                }
