"""One simulated change: its pull request, commits, reviews and approvals, shaped by the
service's archetype and how far it has drifted.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from typing import Any

from headway.simulate.archetypes import HOUR, SOURCE, Archetype
from headway.simulate.draws import ts


def change(
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
        "first_commit_at": ts(first_commit),
        "opened_at": ts(opened),
        "first_review_at": ts(reviewed),
        "approved_at": ts(approved),
        "merged_at": ts(merged),
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
        "requested_at": ts(opened),
        "decided_at": ts(approved),
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
            "requested_at": ts(approved - approval),
            "decided_at": ts(approved),
            "decision": "approved",
            "actor": "cab",
        }
