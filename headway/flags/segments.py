"""Segments of the flag service: reusable audiences, versioned and audited like flags."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from headway.flags import store as rows
from headway.flags.model import Segment, parse_segment
from headway.flags.writing import Conflict, FlagWriter, NotFound

__all__ = ["SegmentCommands"]


class SegmentCommands(FlagWriter):
    def list_segments(self) -> list[Segment]:
        return rows.load_segments(self.store)

    def get_segment(self, key: str) -> Segment:
        segment = rows.load_segment(self.store, key)
        if segment is None:
            raise NotFound(f"segment '{key}' does not exist")
        return segment

    def put_segment(
        self, document: Mapping[str, Any], *, actor: str, dry_run: bool = False
    ) -> Segment:
        """Create or replace a segment; with `dry_run`, only check it (and answer it)."""
        segment = parse_segment({k: v for k, v in document.items() if k != "version"})
        if dry_run:
            return segment
        with self._writing() as tx:
            before = rows.load_segment(tx, segment.key)
            segment = segment.model_copy(update={"version": (before.version if before else 0) + 1})
            if before is not None and before.model_dump(exclude={"version"}) == segment.model_dump(
                exclude={"version"}
            ):
                return before
            now = self.clock()
            rows.save_segment(tx, segment, now)
            rows.insert_audit(
                tx,
                actor=actor,
                entity="segment",
                entity_id=segment.key,
                action="create" if before is None else "update",
                before=before.model_dump(mode="json") if before else None,
                after=segment.model_dump(mode="json"),
                at=now,
            )
        return segment

    def delete_segment(self, key: str, *, actor: str) -> None:
        with self._writing() as tx:
            before = self.get_segment(key)
            users = [
                f.key
                for f in rows.load_flags(tx, include_archived=True)
                if any(
                    c.operator in ("in_segment", "not_in_segment") and key in c.value
                    for env in f.environments.values()
                    for r in env.rules
                    for c in r.conditions
                )
            ]
            if users:
                raise Conflict(
                    f"segment '{key}' is used by flag(s) {', '.join(users)}; "
                    "remove those conditions first"
                )
            rows.delete_segment(tx, key)
            rows.insert_audit(
                tx,
                actor=actor,
                entity="segment",
                entity_id=key,
                action="delete",
                before=before.model_dump(mode="json"),
                after=None,
                at=self.clock(),
            )
