"""The flags control plane: every change is validated, versioned, audited, then announced.

CLI commands and HTTP routes call this service and nothing else. How a change is written and
announced is `headway.flags.writing`; environments and segments are their own parts
(`environments.py`, `segments.py`); this module changes flags and serves their configuration.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Any

from headway.flags import store as rows
from headway.flags.allocation import carry_environment
from headway.flags.environments import EnvironmentCommands
from headway.flags.history import HistoryCommands
from headway.flags.model import (
    ConfigError,
    Flag,
    Issue,
    Serve,
    parse_flag,
    with_lifetime,
)
from headway.flags.segments import SegmentCommands
from headway.flags.snapshot import config_document
from headway.flags.writing import Conflict, NotFound, on_store_change
from headway.store import Store

__all__ = [
    "IMPORT_ISSUES_MAX",
    "Conflict",
    "FlagService",
    "NotFound",
    "on_store_change",
    "sdk_config",
]

# An import with this many problems is answered without checking the rest: a body of ten
# thousand empty documents would otherwise cost seconds and an answer of megabytes.
IMPORT_ISSUES_MAX = 100


class FlagService(EnvironmentCommands, SegmentCommands, HistoryCommands):
    # -- flags --------------------------------------------------------------------------------

    def list_flags(
        self, *, include_archived: bool = False, tag: str | None = None, owner: str | None = None
    ) -> list[Flag]:
        flags = rows.load_flags(self.store, include_archived=include_archived)
        return [
            f
            for f in flags
            if (tag is None or tag in f.tags) and (owner is None or f.owner == owner)
        ]

    def get_flag(self, key: str) -> Flag | None:
        return rows.load_flag(self.store, key)

    def require_flag(self, key: str) -> Flag:
        flag = self.get_flag(key)
        if flag is None:
            raise NotFound(f"flag '{key}' does not exist; `headway flags list` shows the flags")
        return flag

    def _segment_keys(self) -> set[str]:
        return {s.key for s in rows.load_segments(self.store)}

    def _live_flags(self) -> dict[str, Flag]:
        """The flags a `flag_variant` condition may name: every one not archived."""
        return {f.key: f for f in rows.load_flags(self.store)}

    def create_flag(self, document: Mapping[str, Any], *, actor: str) -> Flag:
        doc = {k: v for k, v in document.items() if k not in ("version", "archived")}
        doc = with_lifetime(doc, self.clock().date())
        with self._writing() as tx:
            flag = parse_flag(doc, segments=self._segment_keys(), flags=self._live_flags)
            if self.get_flag(flag.key) is not None:
                raise Conflict(
                    f"flag '{flag.key}' already exists; change it with `headway flags set`"
                )
            envs = dict(flag.environments)
            known = self.environment_keys()
            unknown = [k for k in envs if k not in known]
            if unknown:
                raise ConfigError(
                    [
                        Issue(
                            path=f"environments.{k}", message="unknown environment; create it first"
                        )
                        for k in unknown
                    ]
                )
            for key in known:
                envs.setdefault(key, self._off_config(flag))
            flag = flag.model_copy(update={"environments": envs})
            return self._save(tx, flag, None, actor, "create", None, self.clock())

    def import_flags(self, documents: Sequence[Mapping[str, Any]], *, actor: str) -> list[Flag]:
        """Create every flag of `documents` or none: one transaction, every problem reported
        up to `IMPORT_ISSUES_MAX`, past which the rest is not checked (the answer says so)."""
        issues: list[Issue] = []
        keys = {f.key for f in rows.load_flags(self.store, include_archived=True)}
        segments = self._segment_keys()  # once: per document it cost a query each
        today = self.clock().date()
        seen: set[str] = set()
        for checked, doc in enumerate(documents):
            if len(issues) >= IMPORT_ISSUES_MAX:
                rest = len(documents) - checked
                issues.append(Issue(path="flags", message=f"{rest} more flags not checked"))
                break
            key = str(doc.get("key"))
            if key in keys or key in seen:
                issues.append(
                    Issue(
                        path=f"flags.{key}",
                        message="a flag with this key exists; import "
                        "creates flags only: rename or delete it first",
                    )
                )
            seen.add(key)
            try:
                parse_flag(with_lifetime(doc, today), segments=segments, flags=self._live_flags)
            except ConfigError as error:
                issues += [
                    Issue(path=f"flags.{key}.{e.path}", message=e.message) for e in error.issues
                ]
        if issues:
            raise ConfigError(issues)
        with self._writing():
            return [self.create_flag(doc, actor=actor) for doc in documents]

    def _change(
        self,
        key: str,
        change: Callable[[Flag], Mapping[str, Any] | Flag],
        *,
        actor: str,
        action: str,
        comment: str | None = None,
        expected_version: int | None = None,
        repair: bool = False,
        raw: Callable[[dict[str, Any]], None] | None = None,
        dry_run: bool = False,
    ) -> Flag:
        """Apply `change` to the current flag, validate, carry split allocations, save.

        A flag whose stored document does not validate is changed by `raw` on that document
        (the kill switch and archiving), or replaced whole (`repair`); other changes are
        refused with what is wrong with it. A `dry_run` checks the change the same way and
        answers the flag it would save (at its current version), writing and announcing
        nothing: the web app shows it as a diff before the change is confirmed.
        """
        # Read-modify-write in one transaction, under the lock.
        with self.store.transaction() if dry_run else self._writing() as tx:
            record = rows.load_flag_record(tx, key)
            if record is None:
                raise NotFound(f"flag '{key}' does not exist; `headway flags list` shows the flags")
            before = record.flag
            if record.raw and expected_version is not None and expected_version != before.version:
                raise Conflict(
                    f"flag '{key}' is at version {before.version}, not {expected_version}; "
                    "reload it and apply your change again"
                )
            if record.raw and raw is not None and not dry_run:
                return self._save_raw(tx, record, raw, actor, action, comment, self.clock())
            if record.raw and not repair:
                raise ConfigError(
                    [
                        Issue(path=i.path, message=f"the stored flag is invalid: {i.message}")
                        for i in record.issues
                    ]
                    + [Issue(path="", message="replace the whole flag document to repair it")]
                )
            if expected_version is not None and expected_version != before.version:
                raise Conflict(
                    f"flag '{key}' is at version {before.version}, not {expected_version}; "
                    "reload it and apply your change again"
                )
            changed = change(before)
            doc = changed.model_dump(mode="json") if isinstance(changed, Flag) else dict(changed)
            doc.update(key=before.key, version=before.version, salt=before.salt)
            doc.setdefault("archived", before.archived)  # only archive() changes it
            doc = with_lifetime(doc, self.clock().date())
            # Switching off never makes a flag's references worse: it works whatever they are.
            flag = parse_flag(
                doc,
                segments=None if raw else self._segment_keys(),
                flags=None if raw else self._live_flags,
            )
            if record.raw:  # a repair: what it leaves out starts switched off, as at creation
                envs = {k: self._off_config(flag) for k in self.environment_keys()}
                flag = flag.model_copy(update={"environments": {**envs, **flag.environments}})
            missing = [e for e in before.environments if e not in flag.environments]
            if missing:
                raise ConfigError(
                    [
                        Issue(
                            path=f"environments.{missing[0]}",
                            message="environments cannot be removed from a flag",
                        )
                    ]
                )
            envs = {
                name: carry_environment(before.environments.get(name), env)
                for name, env in flag.environments.items()
            }
            flag = flag.model_copy(update={"environments": envs})
            if dry_run:
                return flag
            if flag.model_dump() == before.model_dump():
                return before  # nothing changed: no version, no audit, no push
            return self._save(tx, flag, before, actor, action, comment, self.clock())

    def replace_flag(
        self,
        key: str,
        document: Mapping[str, Any],
        *,
        actor: str,
        expected_version: int | None = None,
        comment: str | None = None,
    ) -> Flag:
        """Replace the whole flag document (the key and salt cannot change)."""
        return self._change(
            key,
            lambda _: document,
            actor=actor,
            action="update",
            comment=comment,
            expected_version=expected_version,
            repair=True,
        )

    def update_flag(
        self,
        key: str,
        fields: Mapping[str, Any],
        *,
        actor: str,
        expected_version: int | None = None,
        comment: str | None = None,
    ) -> Flag:
        """Change top-level fields: description, owner, service, tags, lifecycle, variants …"""
        allowed = set(Flag.model_fields) - {"key", "salt", "environments", "archived", "version"}
        bad = sorted(set(fields) - allowed)
        if bad:
            raise ConfigError(
                [
                    Issue(
                        path=bad[0],
                        message=f"cannot be set here; use one of {', '.join(sorted(allowed))}",
                    )
                ]
            )

        def apply(flag: Flag) -> dict[str, Any]:
            return {**flag.model_dump(mode="json"), **fields}

        return self._change(
            key,
            apply,
            actor=actor,
            action="update",
            comment=comment,
            expected_version=expected_version,
        )

    def update_environment(
        self,
        key: str,
        environment: str,
        fields: Mapping[str, Any],
        *,
        actor: str,
        action: str = "update",
        comment: str | None = None,
        expected_version: int | None = None,
        dry_run: bool = False,
    ) -> Flag:
        """Change one environment's config: enabled, off_variant, rules, default.

        With `dry_run`, only check the change and answer the flag it would make."""

        def apply(flag: Flag) -> dict[str, Any]:
            doc = flag.model_dump(mode="json")
            if environment not in doc["environments"]:
                raise NotFound(
                    f"environment '{environment}' does not exist; "
                    f"known: {', '.join(doc['environments'])}"
                )
            doc["environments"][environment] = {**doc["environments"][environment], **fields}
            return doc

        def switch_off(doc: dict[str, Any]) -> None:
            env = (doc.get("environments") or {}).get(environment)
            if not isinstance(env, dict):
                raise NotFound(f"environment '{environment}' does not exist")
            env["enabled"] = False

        return self._change(
            key,
            apply,
            actor=actor,
            action=action,
            comment=comment,
            expected_version=expected_version,
            # Switching an environment off is a kill switch: it works on any stored flag.
            raw=switch_off if dict(fields) == {"enabled": False} else None,
            dry_run=dry_run,
        )

    def set_enabled(self, key: str, environment: str, enabled: bool, *, actor: str) -> Flag:
        return self.update_environment(
            key,
            environment,
            {"enabled": enabled},
            actor=actor,
            action="enable" if enabled else "disable",
        )

    def set_default_serve(
        self, key: str, environment: str, serve: Serve, *, actor: str, reason: str
    ) -> None:
        """Serve a variant or split by default (rollouts call this to move stages)."""
        self.update_environment(
            key,
            environment,
            {"default": serve.model_dump(mode="json")},
            actor=actor,
            action="serve",
            comment=reason,
        )

    def kill(
        self, key: str, *, actor: str, environment: str | None = None, reason: str | None = None
    ) -> Flag:
        """The kill switch: off (serving the off variant) in one or every environment, at once."""

        def apply(flag: Flag) -> dict[str, Any]:
            doc = flag.model_dump(mode="json")
            targets = [environment] if environment else list(doc["environments"])
            for env in targets:
                if env not in doc["environments"]:
                    raise NotFound(f"environment '{env}' does not exist")
                doc["environments"][env]["enabled"] = False
            return doc

        def apply_raw(doc: dict[str, Any]) -> None:
            envs = doc.get("environments")
            envs = envs if isinstance(envs, dict) else {}
            if environment and environment not in envs:
                raise NotFound(f"environment '{environment}' does not exist")
            for env in [environment] if environment else list(envs):
                if isinstance(envs[env], dict):
                    envs[env]["enabled"] = False

        return self._change(key, apply, actor=actor, action="kill", comment=reason, raw=apply_raw)

    def archive(self, key: str, *, actor: str, archived: bool = True) -> Flag:
        """Archived flags leave SDK configs (callers get their default) but keep their history."""
        return self._change(
            key,
            lambda f: {**f.model_dump(mode="json"), "archived": archived},
            actor=actor,
            action="archive" if archived else "unarchive",
            raw=lambda doc: doc.update(archived=archived),
        )

    # -- distribution -------------------------------------------------------------------------

    def config(self, environment: str) -> dict[str, Any]:
        """The SDK configuration document of one environment."""
        return sdk_config(self.store, environment)

    def record_exposures(
        self,
        environment: str,
        batch: str,
        counts: list[tuple[str, str, int]],
        start: datetime,
        end: datetime,
    ) -> int:
        with self.store.transaction() as tx:
            return rows.insert_exposures(
                tx,
                batch=batch,
                environment=environment,
                rows=counts,
                start=start,
                end=end,
                at=self.clock(),
            )

    def exposures(self, environment: str, key: str) -> dict[str, int]:
        return rows.exposure_totals(self.store, environment, key)


def sdk_config(store: Store, environment: str) -> dict[str, Any]:
    """The SDK configuration document of one environment, read from `store`."""
    if environment not in {e.key for e in rows.list_environments(store)}:
        raise NotFound(f"environment '{environment}' does not exist")
    flags = rows.load_flag_records(store)
    segments = rows.load_segment_records(store)
    return config_document(
        environment,
        [r.flag for r in flags],
        [s for s, issues, _ in segments if not issues],
        invalid_flags={r.flag.key: r.document for r in flags if r.raw},
        invalid_segments={s.key: doc for s, issues, doc in segments if issues},
    )
