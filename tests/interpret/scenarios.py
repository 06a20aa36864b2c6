"""Hand-written histories of one team each: the situations the founding documents describe.

Every history covers six months, November 2025 to April 2026, and is reviewed for April
2026. `History.ship` writes one deployment and everything around it (its changes with their
review times, a gate approval, an incident and its recovery, escaped defects), so a scenario
reads as a list of releases. `SCENARIOS` maps each team to its history and to the findings an
expert reviewer would reach (the detectors that must fire, and nothing else).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from headway.metrics.scope import Period

MONTHS = [datetime(2025, 11, 1) + timedelta(days=31 * i) for i in range(6)]
MONTHS = [datetime(m.year, m.month, 1) for m in MONTHS]  # 2025-11 … 2026-04
APRIL = Period(datetime(2026, 4, 1), datetime(2026, 5, 1))
WINDOW = Period(MONTHS[0], APRIL.until)


def _at(t: datetime) -> str:
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass
class History:
    team: str
    context: str = "customer-facing"
    services: tuple[str, ...] = ()
    records: list[dict[str, Any]] = field(default_factory=list)
    _n: int = 0

    def __post_init__(self) -> None:
        self.services = self.services or (f"{self.team}-svc",)
        for s in self.services:
            self.records.append(
                {"type": "service", "name": s, "team": self.team, "context": self.context}
            )

    def _id(self, kind: str) -> str:
        self._n += 1
        return f"{self.team}-{kind}{self._n}"

    def ship(
        self,
        at: datetime,
        *,
        service: str | None = None,
        changes: int = 1,
        lines: int = 80,
        coding_h: float = 6,
        pickup_h: float = 2,
        review_h: float = 1,
        deploy_wait_h: float = 2,
        labels: tuple[str, ...] = ("feature",),
        gate: str | None = None,
        gate_h: float = 0,
        failed: bool = False,
        recovery_h: float = 1,
        rollback: bool = True,
        defects: int = 0,
        author: str | None = None,
        title: str | None = None,
    ) -> str:
        """One production deployment finishing at `at`; returns its id."""
        service = service or self.services[0]
        dep = self._id("d")
        ref = f"s:{dep}"
        gate_s = timedelta(hours=gate_h if gate else 0)
        merged = at - timedelta(hours=deploy_wait_h) - gate_s
        for _ in range(changes):
            cid = self._id("c")
            approved = merged - timedelta(minutes=10)
            reviewed = approved - timedelta(hours=review_h)
            opened = reviewed - timedelta(hours=pickup_h)
            self.records.append(
                {
                    "type": "change",
                    "source": "s",
                    "source_id": cid,
                    "service": service,
                    "title": title or f"{labels[0]} work {cid}",
                    **({"author": author} if author else {}),
                    "labels": list(labels),
                    "first_commit_at": _at(opened - timedelta(hours=coding_h)),
                    "opened_at": _at(opened),
                    "first_review_at": _at(reviewed),
                    "approved_at": _at(approved),
                    "merged_at": _at(merged),
                    "additions": lines * 3 // 4,
                    "deletions": lines - lines * 3 // 4,
                    "deployment_ref": ref,
                }
            )
            self.records.append(
                {
                    "type": "approval",
                    "source": "s",
                    "source_id": self._id("r"),
                    "kind": "code_review",
                    "change_ref": f"s:{cid}",
                    "service": service,
                    "requested_at": _at(opened),
                    "decided_at": _at(approved),
                    "decision": "approved",
                }
            )
        if gate:
            self.records.append(
                {
                    "type": "approval",
                    "source": "s",
                    "source_id": self._id("g"),
                    "kind": gate,
                    "deployment_ref": ref,
                    "service": service,
                    "requested_at": _at(merged),
                    "decided_at": _at(merged + gate_s),
                    "decision": "approved",
                }
            )
        self.records.append(
            {
                "type": "deployment",
                "source": "s",
                "source_id": dep,
                "service": service,
                "started_at": _at(at - timedelta(minutes=10)),
                "finished_at": _at(at),
            }
        )
        if failed:
            opened_i = at + timedelta(minutes=20)
            self.records.append(
                {
                    "type": "incident",
                    "source": "s",
                    "source_id": self._id("i"),
                    "service": service,
                    "opened_at": _at(opened_i),
                    "resolved_at": _at(opened_i + timedelta(hours=recovery_h)),
                    "cause_ref": ref,
                    "labels": ["errors"],
                }
            )
            if rollback:
                done = opened_i + timedelta(hours=recovery_h)
                self.records.append(
                    {
                        "type": "deployment",
                        "source": "s",
                        "source_id": self._id("rb"),
                        "service": service,
                        "kind": "rollback",
                        "recovers": ref,
                        "started_at": _at(done - timedelta(minutes=5)),
                        "finished_at": _at(done),
                    }
                )
        for k in range(defects):
            self.records.append(
                {
                    "type": "defect",
                    "source": "s",
                    "source_id": self._id("bug"),
                    "service": service,
                    "found_at": _at(at + timedelta(days=2, hours=k)),
                    "severity": "major",
                    "deployment_ref": ref,
                }
            )
        return dep


def _days(month: int, count: int, *, weekday: int | None = None) -> list[datetime]:
    """`count` working-hours times spread over month `month` (0 = 2025-11), or every
    `weekday` of the month when given."""
    start = MONTHS[month]
    if weekday is not None:
        first = start + timedelta(days=(weekday - start.weekday()) % 7)
        return [first + timedelta(days=7 * i, hours=14) for i in range(4)][:count]
    step = 28 * 24 / count
    return [start + timedelta(hours=10 + step * i) for i in range(count)]


# -- the situations --------------------------------------------------------------------------


def bundled() -> History:
    """The worked scenario: coding takes hours, but changes wait days for review and for a
    release approval; three bundled releases a month, the large ones failing far more often.
    Expected: large releases fail more (reduce batch size); the release approval is the
    costliest gate (automate its evidence)."""
    h = History("bundled")
    for m in range(6):
        for i, at in enumerate(_days(m, 3)):
            large = i != 1 if m % 2 else i == 1
            # 9 large releases (20 changes) fail 6 times; 9 small (4 changes) fail once
            fails = large and (m, i) not in ((1, 0), (3, 0), (5, 2))
            h.ship(
                at,
                changes=20 if large else 4,
                lines=150,
                coding_h=6,
                pickup_h=60,
                gate="change_advisory",
                gate_h=96,
                failed=fails or (m, i) == (2, 0),
                recovery_h=6,
            )
    return h


def speeding() -> History:
    """A leadership push: deployments 20 → 50 a month and lead time 48 h → 16 h over six
    months, while the change fail rate climbs 5 % → 18 % and escaped defects rise.
    Expected: speed improves while outcomes worsen, from the first month on."""
    h = History("speeding")
    per_month = (20, 26, 32, 38, 44, 50)
    failures = (1, 2, 3, 5, 7, 9)
    bugs = (1, 1, 3, 5, 8, 12)
    lead = (48, 40, 32, 26, 20, 16)
    for m in range(6):
        times = _days(m, per_month[m])
        fail_at = {len(times) * (k + 1) // (failures[m] + 1) for k in range(failures[m])}
        bug_at = {len(times) * (k + 1) // (bugs[m] + 1) for k in range(bugs[m])}
        for i, at in enumerate(times):
            h.ship(
                at,
                coding_h=lead[m] - 5,
                failed=i in fail_at,
                defects=1 if i in bug_at else 0,
            )
    return h


def gated() -> History:
    """Code review is quick, but every release waits three days for a change advisory board
    that meets twice a month; it is invisible in a month's view (two events).
    Expected: the change advisory gate's cost is named (automate its evidence)."""
    h = History("gated")
    for m in range(6):
        for i, at in enumerate(_days(m, 20)):
            # the two releases a month that carry a database change go to the board
            board = i in (4, 14)
            h.ship(at, coding_h=4, gate="change_advisory" if board else None, gate_h=72)
    return h


def unlike_contexts() -> list[History]:
    """Two teams set side by side: a public website and a payments platform.
    Expected: the comparison ignores operating context (compare only within a context)."""
    web = History("site", "customer-facing")
    pay = History("ledger", "regulated")
    for m in range(6):
        for at in _days(m, 20):
            web.ship(at)
        for at in _days(m, 4):
            pay.ship(at, changes=3, coding_h=10, pickup_h=8)
    return [web, pay]


def regulated() -> History:
    """A regulated platform: two releases a month, deliberately, behind a change advisory
    gate it keeps on purpose; one failure in six months, recovered by rollback within the
    hour. Expected: nothing to fix (read against its own goals, not the table)."""
    h = History("vault", "regulated")
    for m in range(6):
        for i, at in enumerate(_days(m, 2)):
            h.ship(
                at,
                changes=3,
                gate="change_advisory",
                gate_h=24,
                failed=(m, i) == (3, 1),
                recovery_h=0.5,
            )
    return h


def concentrated() -> History:
    """Two services deployed together each week; failures and rollbacks cluster in the
    `billing` service (16 of 17 failures), while sizes, weekdays and months are alike; half of
    its recoveries had no rollback and took 40 hours, against 1 hour with one.
    Expected: failures concentrate in one service (stabilise it, strengthen rollback);
    recovery without rollback is slow (strengthen rollback)."""
    h = History("shop", services=("billing", "catalog"))
    n = 0
    for m in range(6):
        for at in _days(m, 8):
            for service in ("billing", "catalog"):
                n += 1
                fails = (service == "billing" and n % 6 == 1) or n == 50
                h.ship(
                    at + timedelta(hours=1 if service == "catalog" else 0),
                    service=service,
                    failed=fails,
                    rollback=n % 12 != 1,
                    recovery_h=1 if n % 12 != 1 else 40,
                )
    return h


# -- healthy controls ------------------------------------------------------------------------


def healthy_speedup() -> History:
    """Deployments 20 → 45 a month as changes get smaller (200 → 60 lines); the change fail
    rate stays near 5 % and escaped defects fall. Expected: healthy improvement (a positive
    finding), nothing to fix."""
    h = History("steady")
    per_month = (20, 25, 30, 35, 40, 45)
    lines = (200, 160, 120, 100, 80, 60)
    bugs = (4, 4, 3, 2, 1, 1)
    for m in range(6):
        times = _days(m, per_month[m])
        fails = max(1, round(0.05 * len(times)))
        fail_at = {len(times) * (k + 1) // (fails + 1) for k in range(fails)}
        bug_at = {len(times) * (k + 1) // (bugs[m] + 1) for k in range(bugs[m])}
        for i, at in enumerate(times):
            h.ship(
                at,
                lines=lines[m],
                coding_h=24 - 2 * m,
                failed=i in fail_at,
                defects=1 if i in bug_at else 0,
            )
    return h


def low_frequency() -> History:
    """An internal tool released every Tuesday (four a month), small changes, one failure in
    six months recovered by rollback. Expected: no finding; in particular no weekday cluster
    (every release is on a Tuesday) and no level from one failure."""
    h = History("tools", "internal")
    for m in range(6):
        for i, at in enumerate(_days(m, 4, weekday=1)):
            h.ship(at, changes=2, failed=(m, i) == (2, 2))
    return h


def sliced() -> History:
    """Twenty releases a month of one 120-line change each; in April twelve of those, plus
    eight pieces of work each cut into four 8-line changes by one author ("Add CSV export
    (part 1/4)" …), every part its own deployment six hours after the last. One failure a
    month, two in April. Expected: change slicing without value, on its own evidence: 32 of
    44 April deployments shipped only tiny diffs (none before) and the same 32 shipped parts
    of 8 split series; not healthy improvement."""
    h = History("chat")
    works = (
        "Add CSV export",
        "Rework invoice layout",
        "Support promo codes",
        "Show order history",
        "Cache search results",
        "Localise checkout page",
        "Refine signup form",
        "Track delivery status",
    )
    for m in range(6):
        regular = _days(m, 12 if m == 5 else 20)
        for i, at in enumerate(regular):
            h.ship(at, lines=120, failed=i == 5 or (m == 5 and i == 9))
        if m == 5:
            for w, work in enumerate(works):
                start = MONTHS[5] + timedelta(days=3 * w + 1, hours=9)
                for k in range(4):
                    h.ship(
                        start + timedelta(hours=6 * k),
                        lines=8,
                        author=f"dev{w}",
                        title=f"{work} (part {k + 1}/4)",
                    )
    return h


TOPICS = ("checkout total", "search ranking", "invoice email", "signup flow", "order page")
VERBS = ("Add", "Fix", "Speed up", "Simplify", "Cache", "Show", "Validate", "Remove")


def smaller_batches() -> History:
    """Smaller changes, each a piece of value: deployments 20 → 56 a month as changes shrink
    150 → 40 lines, every change with its own title and author, one failure a month and
    escaped defects falling. April against February–March passes the slicing detector's size
    and frequency gates (×1.8 deployments a day, 110 → 40 lines), but none of its evidence is
    there (no tiny diffs, nothing invisible, no split series). Expected: healthy improvement,
    never slicing."""
    h = History("orders")
    per_month = (20, 22, 25, 28, 34, 56)
    lines = (150, 140, 130, 120, 110, 40)
    bugs = (2, 2, 2, 1, 1, 1)
    n = 0
    for m in range(6):
        times = _days(m, per_month[m])
        for i, at in enumerate(times):
            n += 1
            topic, verb = TOPICS[n % len(TOPICS)], VERBS[n // len(TOPICS) % len(VERBS)]
            h.ship(
                at,
                lines=lines[m],
                failed=i == len(times) // 2,
                defects=1 if i < bugs[m] else 0,
                author=f"dev{n % 7}",
                title=f"{verb} {topic}",
            )
    return h


@dataclass(frozen=True)
class Scenario:
    histories: Callable[[], list[History]]
    expected: frozenset[str]
    healthy: bool = False
    positive: frozenset[str] = frozenset()


SCENARIOS = {
    "bundled": Scenario(lambda: [bundled()], frozenset({"batch_size", "gate_cost"})),
    "speeding": Scenario(lambda: [speeding()], frozenset({"speed_outcomes"})),
    "gated": Scenario(lambda: [gated()], frozenset({"gate_cost"})),
    "unlike_contexts": Scenario(unlike_contexts, frozenset({"context"})),
    "regulated": Scenario(lambda: [regulated()], frozenset()),
    "concentrated": Scenario(
        lambda: [concentrated()], frozenset({"failure_cluster", "recovery_without_rollback"})
    ),
    "healthy_speedup": Scenario(
        lambda: [healthy_speedup()],
        frozenset(),
        healthy=True,
        positive=frozenset({"healthy_improvement"}),
    ),
    "low_frequency": Scenario(lambda: [low_frequency()], frozenset(), healthy=True),
    "sliced": Scenario(lambda: [sliced()], frozenset({"slicing"})),
    "smaller_batches": Scenario(
        lambda: [smaller_batches()],
        frozenset(),
        healthy=True,
        positive=frozenset({"healthy_improvement"}),
    ),
}


def records(name: str) -> list[dict[str, Any]]:
    return [r for h in SCENARIOS[name].histories() for r in h.records]
