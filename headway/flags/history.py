"""What a flag went through: its versions, its audit trail, its lifecycle dates, and the flags
whose time is up, with where the code still reads them."""

from __future__ import annotations

from datetime import date, timedelta

from headway.flags import store as rows
from headway.flags.lifecycle import (
    DEFAULT_STALE_AFTER,
    RELEASE_ENVIRONMENT,
    FlagLifecycle,
    StaleFlag,
    lifecycle_of,
    stale_flags,
)
from headway.flags.model import ConfigError, Flag, Issue
from headway.flags.references import ReferenceCommands
from headway.flags.writing import NotFound

__all__ = ["HistoryCommands"]


class HistoryCommands(ReferenceCommands):
    def _missing(self, key: str) -> NotFound:
        return NotFound(f"flag '{key}' does not exist; `headway flags list` shows the flags")

    def history(self, key: str) -> list[rows.FlagVersion]:
        if rows.load_flag_record(self.store, key) is None:
            raise self._missing(key)
        return rows.load_versions(self.store, key)

    def audit(self, key: str) -> list[rows.AuditEntry]:
        return rows.list_audit(self.store, "flag", key)

    def lifecycle(self, key: str, release_environment: str = RELEASE_ENVIRONMENT) -> FlagLifecycle:
        versions = rows.load_histories(self.store, key).get(key)
        if not versions:
            raise self._missing(key)
        return lifecycle_of(versions, release_environment)

    def lifecycles(self, release_environment: str = RELEASE_ENVIRONMENT) -> list[FlagLifecycle]:
        """The lifecycle of every flag not archived, by key."""
        return [
            lifecycle_of(versions, release_environment)
            for versions in rows.load_histories(self.store).values()
        ]

    def stale(self, after: timedelta = DEFAULT_STALE_AFTER) -> list[StaleFlag]:
        """Release flags settled on or off everywhere for longer than `after`, and temporary
        flags past their expected removal date, longest stale first."""
        if after <= timedelta(0):
            raise ConfigError([Issue(path="after_days", message="give a number of days above 0")])
        found = stale_flags(self.lifecycles(), self.clock(), after)
        uses = self.code_references()
        return [s.model_copy(update={"references": uses.get(s.key, [])}) for s in found]

    def stale_flags(self, today: date | None = None) -> list[Flag]:
        """Temporary flags past their expected removal date."""
        today = today or self.clock().date()
        return [
            f
            for f in rows.load_flags(self.store)
            if f.lifecycle.expected_removal and f.lifecycle.expected_removal < today
        ]
