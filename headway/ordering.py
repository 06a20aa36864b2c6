"""Which of two source events about one record is newer, and what an older one may still say.

Each adapter names, with what it parsed, the source's own id and time of the event (`Order`):
a GitHub deployment status's id and `updated_at`, a PagerDuty event's id and `occurred_at`
(docs/webhooks.md lists them all). A record keeps the order of the newest event applied to
it; an event that is not newer is stale. A stale event changes nothing but the first moments
(`EARLIEST`), which only ever move earlier whatever the order they arrive in.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import datetime
from typing import Any, ClassVar

# Fields where the earliest report is the truth, whichever event says it: a PagerDuty
# `acknowledged` event without created_at can only say the incident opened no later than now.
EARLIEST: dict[str, tuple[str, ...]] = {
    "incidents": ("opened_at", "acknowledged_at"),
    "changes": ("opened_at", "first_review_at"),
    "pipeline_runs": ("started_at",),
    "approvals": ("requested_at",),
}
# What names a record, what it is and where it belongs: kept on a stale event's record (an
# approval's `kind`, code review or deployment gate, is never empty in the store).
_IDENTITY = frozenset({"source", "source_id", "kind", "service", "repository"})


@dataclass(frozen=True, slots=True)
class Order:
    """A source event's own id and time. Events compare by time, then by id (numerically when
    both are numbers, as GitHub's and GitLab's are); the same id at the same time is the same
    event delivered again."""

    event: str
    at: datetime

    def key(self) -> tuple[datetime, int, int, str]:
        number = int(self.event) if self.event.isdigit() else -1
        return (self.at, 0 if number < 0 else 1, number, self.event)

    def newer_than(self, other: Order) -> bool:
        return self.key() > other.key()


@dataclass(frozen=True, slots=True)
class EventOrder:
    """The newest event applied to a record (table `event_order`)."""

    table: ClassVar[str] = "event_order"
    record_table: str
    record_id: str
    event: str
    occurred_at: datetime

    @property
    def id(self) -> str:
        return f"{self.record_table} {self.record_id}"


def record_key(record: Any) -> str:
    return f"{record.table} {record.id}"


def stale_part(record: Any) -> Any | None:
    """What a stale event still says about `record`: its first moments, or None when it has
    none (it then changes nothing).

    Every other field is None, lists included: an empty list would be written as one and
    erase the labels the newer event set, where None means "not said" and keeps what is
    stored (`ingest.reconcile.first_moments` fills such lists from the store before writing)."""
    kept = EARLIEST.get(record.table, ())
    if not any(getattr(record, name) is not None for name in kept):
        return None
    cleared = {
        f.name: None for f in dataclasses.fields(record) if f.name not in _IDENTITY | set(kept)
    }
    return dataclasses.replace(record, **cleared)


__all__ = ["EARLIEST", "EventOrder", "Order", "record_key", "stale_part"]
