"""The flags control plane: every change is validated, versioned, audited, then announced.

CLI commands and HTTP routes call this service and nothing else. A change runs in one store
transaction (flag row, version row, audit row, and on PostgreSQL a NOTIFY that other replicas
receive on commit), then `on_change` tells this process's SDK hub to push new configuration.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import UTC, date, datetime
from functools import partial
from typing import Any
from weakref import WeakKeyDictionary

import orjson

from headway.flags import store as rows
from headway.flags.bucketing import rebalance
from headway.flags.model import (
    BUCKETS,
    KEY_PATTERN,
    ConfigError,
    EnvironmentConfig,
    Flag,
    Issue,
    Segment,
    Serve,
    parse_flag,
    parse_segment,
    with_lifetime,
)
from headway.flags.origins import normalize_origin, normalize_origins
from headway.flags.salvage import read_flag
from headway.flags.snapshot import config_document
from headway.store import Store

__all__ = ["IMPORT_ISSUES_MAX", "Conflict", "FlagService", "NotFound", "on_store_change"]

# An import with this many problems is answered without checking the rest: a body of ten
# thousand empty documents would otherwise cost seconds and an answer of megabytes.
IMPORT_ISSUES_MAX = 100


class NotFound(LookupError):
    pass


class Conflict(RuntimeError):
    """The change was based on a stale version, or the key already exists."""


def _utcnow() -> datetime:
    return datetime.now(UTC)


# Callbacks run after any flag change committed through any FlagService on a given store, so
# that a service created elsewhere (the rollout controller's, say) still wakes this process's
# SDK streams. Other processes learn of changes through PostgreSQL NOTIFY.
_store_listeners: WeakKeyDictionary[Store, list[Callable[[], object]]] = WeakKeyDictionary()


def on_store_change(store: Store, callback: Callable[[], object]) -> Callable[[], None]:
    """Call `callback` after every flag change on `store`; returns a function that stops it."""
    _store_listeners.setdefault(store, []).append(callback)

    def remove() -> None:
        callbacks = _store_listeners.get(store, [])
        if callback in callbacks:
            callbacks.remove(callback)

    return remove


def _carry_allocation(previous: Serve | None, serve: Serve) -> Serve:
    """Re-derive a split's allocation from what was served before, moving the fewest users.

    A fixed variant counts as owning every bucket, so going from `off` to a 1 % split and on
    to 5 % keeps the first 1 % in the next stage.
    """
    if serve.split is None or previous is None:
        return serve
    if previous.split is not None:
        before = previous.split.allocation
    else:
        assert previous.variant is not None
        before = [(0, BUCKETS, previous.variant)]
    allocation = rebalance(before, serve.split.weights)
    return serve.model_copy(
        update={"split": serve.split.model_copy(update={"allocation": allocation})}
    )


def _carry_environment(
    previous: EnvironmentConfig | None, env: EnvironmentConfig
) -> EnvironmentConfig:
    if previous is None:
        return env
    old_rules = {r.id: r for r in previous.rules}
    rules = [
        r.model_copy(update={"serve": _carry_allocation(old_rules[r.id].serve, r.serve)})
        if r.id in old_rules
        else r
        for r in env.rules
    ]
    return env.model_copy(
        update={"rules": rules, "default": _carry_allocation(previous.default, env.default)}
    )


def _add_environment(doc: dict[str, Any], key: str, config: EnvironmentConfig) -> None:
    envs = doc.get("environments")
    doc["environments"] = {
        **(envs if isinstance(envs, dict) else {}),
        key: config.model_dump(mode="json"),
    }


class FlagService:
    def __init__(
        self,
        store: Store,
        *,
        clock: Callable[[], datetime] = _utcnow,
        on_change: Callable[[], object] | None = None,
    ) -> None:
        self.store = store
        self.clock = clock
        self.on_change = on_change

    @contextmanager
    def _writing(self) -> Iterator[Store]:
        with self.store.transaction() as tx:
            yield tx
            if self.store.dialect == "postgres":
                # Delivered to every replica's listener when the transaction commits.
                tx.execute(f"NOTIFY {rows.NOTIFY_CHANNEL}")
        if self.on_change is not None:
            self.on_change()
        for callback in list(_store_listeners.get(self.store, ())):
            callback()

    # -- environments -------------------------------------------------------------------------

    def environments(self) -> list[rows.EnvironmentRow]:
        return rows.list_environments(self.store)

    def environment_keys(self) -> list[str]:
        return [e.key for e in self.environments()]

    def create_environment(
        self, key: str, *, name: str | None = None, description: str | None = None, actor: str
    ) -> rows.EnvironmentRow:
        if not re.fullmatch(KEY_PATTERN, key):  # match would take "prod\n"
            raise ConfigError([Issue(path="key", message="use letters, digits, '.', '_' or '-'")])
        existing = self.environments()
        if key in {e.key for e in existing}:
            raise Conflict(f"environment '{key}' already exists")
        env = rows.EnvironmentRow(key, name or key, description, len(existing))
        now = self.clock()
        after = {"key": key, "name": env.name, "description": description}
        with self._writing() as tx:
            rows.insert_environment(tx, env, now)
            rows.insert_audit(
                tx,
                actor=actor,
                entity="environment",
                entity_id=key,
                action="create",
                before=None,
                after=after,
                at=now,
            )
            # Every flag gets a switched-off configuration for the new environment.
            for record in rows.load_flag_records(tx, include_archived=True):
                flag = record.flag
                if record.raw:
                    self._save_raw(
                        tx,
                        record,
                        partial(_add_environment, key=key, config=self._off_config(flag)),
                        actor,
                        "add-environment",
                        f"environment {key} added",
                        now,
                    )
                    continue
                envs = {**flag.environments, key: self._off_config(flag)}
                self._save(
                    tx,
                    flag.model_copy(update={"environments": envs}),
                    flag,
                    actor,
                    "add-environment",
                    f"environment {key} added",
                    now,
                )
        return env

    def set_cors_origins(self, key: str, origins: list[str], *, actor: str) -> rows.EnvironmentRow:
        """Replace the browser origins allowed to call `key`'s client-side endpoints."""
        issues = []
        for i, origin in enumerate(origins):
            try:
                normalize_origin(origin)
            except ValueError as error:
                issues.append(Issue(path=f"origins[{i}]", message=str(error)))
        if issues:
            raise ConfigError(issues)
        try:
            normalized = normalize_origins(origins)
        except ValueError as error:
            raise ConfigError([Issue(path="origins", message=str(error))]) from None
        with self._writing() as tx:
            before = next((e for e in rows.list_environments(tx) if e.key == key), None)
            if before is None:
                known = ", ".join(self.environment_keys())
                raise NotFound(f"environment '{key}' does not exist; known: {known}")
            if before.cors_origins == normalized:
                return before
            rows.set_cors_origins(tx, key, normalized)
            rows.insert_audit(
                tx,
                actor=actor,
                entity="environment",
                entity_id=key,
                action="cors-origins",
                before={"cors_origins": list(before.cors_origins)},
                after={"cors_origins": list(normalized)},
                at=self.clock(),
            )
        return rows.EnvironmentRow(
            before.key, before.name, before.description, before.position, normalized
        )

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

    @staticmethod
    def _off_config(flag: Flag) -> EnvironmentConfig:
        """Switched off, serving the `false`/first variant: the safe state of a new environment.

        Switched on, a boolean flag serves its `true` variant, as in every other flag system;
        other types serve their first variant until told otherwise. Only configurations made
        here follow this: a stored one says what it serves and keeps serving it.
        """
        off = next((v.key for v in flag.variants if v.value is False), flag.variants[0].key)
        on = next((v.key for v in flag.variants if v.value is True), off)
        return EnvironmentConfig(enabled=False, off_variant=off, default=Serve(variant=on))

    def create_flag(self, document: Mapping[str, Any], *, actor: str) -> Flag:
        doc = {k: v for k, v in document.items() if k not in ("version", "archived")}
        doc = with_lifetime(doc, self.clock().date())
        with self._writing() as tx:
            flag = parse_flag(doc, segments=self._segment_keys())
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
                parse_flag(with_lifetime(doc, today), segments=segments)
            except ConfigError as error:
                issues += [
                    Issue(path=f"flags.{key}.{e.path}", message=e.message) for e in error.issues
                ]
        if issues:
            raise ConfigError(issues)
        with self._writing():
            return [self.create_flag(doc, actor=actor) for doc in documents]

    def _save(
        self,
        tx: Store,
        flag: Flag,
        before: Flag | None,
        actor: str,
        action: str,
        comment: str | None,
        at: datetime,
    ) -> Flag:
        flag = flag.model_copy(update={"version": (before.version if before else 0) + 1})
        rows.save_flag(tx, flag, actor=actor, action=action, comment=comment, at=at)
        rows.insert_audit(
            tx,
            actor=actor,
            entity="flag",
            entity_id=flag.key,
            action=action,
            before=before.model_dump(mode="json") if before else None,
            after=flag.model_dump(mode="json"),
            at=at,
        )
        return flag

    def _save_raw(
        self,
        tx: Store,
        record: rows.StoredFlag,
        mutate: Callable[[dict[str, Any]], None],
        actor: str,
        action: str,
        comment: str | None,
        at: datetime,
    ) -> Flag:
        """Change a stored document that does not validate only where `mutate` does, keeping
        the rest as it is for its owner to repair."""
        before = record.flag
        doc = dict(record.document)
        mutate(doc)
        doc["version"] = before.version + 1
        flag, _ = read_flag(before.key, orjson.dumps(doc))
        flag = flag.model_copy(update={"version": before.version + 1})
        if isinstance(doc.get("archived"), bool):
            flag = flag.model_copy(update={"archived": doc["archived"]})
        rows.save_document(tx, flag, doc, actor=actor, action=action, comment=comment, at=at)
        rows.insert_audit(
            tx,
            actor=actor,
            entity="flag",
            entity_id=flag.key,
            action=action,
            before=record.document,
            after=doc,
            at=at,
        )
        return flag

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
    ) -> Flag:
        """Apply `change` to the current flag, validate, carry split allocations, save.

        A flag whose stored document does not validate is changed by `raw` on that document
        (the kill switch and archiving), or replaced whole (`repair`); other changes are
        refused with what is wrong with it.
        """
        with self._writing() as tx:  # read-modify-write in one transaction, under the lock
            record = rows.load_flag_record(tx, key)
            if record is None:
                raise NotFound(f"flag '{key}' does not exist; `headway flags list` shows the flags")
            before = record.flag
            if record.raw and expected_version is not None and expected_version != before.version:
                raise Conflict(
                    f"flag '{key}' is at version {before.version}, not {expected_version}; "
                    "reload it and apply your change again"
                )
            if record.raw and raw is not None:
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
            flag = parse_flag(doc, segments=None if raw else self._segment_keys())
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
                name: _carry_environment(before.environments.get(name), env)
                for name, env in flag.environments.items()
            }
            flag = flag.model_copy(update={"environments": envs})
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
        """Change top-level fields: description, owner, tags, lifecycle, variants, client_side."""
        allowed = {"description", "owner", "tags", "lifecycle", "variants", "type", "client_side"}
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
    ) -> Flag:
        """Change one environment's config: enabled, off_variant, rules, default."""

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

    def history(self, key: str) -> list[rows.FlagVersion]:
        self.require_flag(key)
        return rows.load_versions(self.store, key)

    def audit(self, key: str) -> list[rows.AuditEntry]:
        return rows.list_audit(self.store, "flag", key)

    def stale_flags(self, today: date | None = None) -> list[Flag]:
        """Temporary flags past their expected removal date."""
        today = today or self.clock().date()
        return [
            f
            for f in self.list_flags()
            if f.lifecycle.expected_removal and f.lifecycle.expected_removal < today
        ]

    # -- segments -----------------------------------------------------------------------------

    def list_segments(self) -> list[Segment]:
        return rows.load_segments(self.store)

    def get_segment(self, key: str) -> Segment:
        segment = rows.load_segment(self.store, key)
        if segment is None:
            raise NotFound(f"segment '{key}' does not exist")
        return segment

    def put_segment(self, document: Mapping[str, Any], *, actor: str) -> Segment:
        """Create or replace a segment."""
        segment = parse_segment({k: v for k, v in document.items() if k != "version"})
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
                for f in self.list_flags(include_archived=True)
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

    # -- distribution -------------------------------------------------------------------------

    def config(self, environment: str) -> dict[str, Any]:
        """The SDK configuration document of one environment."""
        if environment not in self.environment_keys():
            raise NotFound(f"environment '{environment}' does not exist")
        flags = rows.load_flag_records(self.store)
        segments = rows.load_segment_records(self.store)
        return config_document(
            environment,
            [r.flag for r in flags],
            [s for s, issues, _ in segments if not issues],
            invalid_flags={r.flag.key: r.document for r in flags if r.raw},
            invalid_segments={s.key: doc for s, issues, doc in segments if issues},
        )

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
