"""Environments of the flag service: create them (every flag gets a switched-off
configuration there) and set the browser origins allowed to call their client endpoints."""

from __future__ import annotations

import re
from functools import partial
from typing import Any

from headway.flags import store as rows
from headway.flags.model import KEY_PATTERN, ConfigError, EnvironmentConfig, Issue
from headway.flags.origins import normalize_origin, normalize_origins
from headway.flags.writing import Conflict, FlagWriter, NotFound

__all__ = ["EnvironmentCommands"]


def _add_environment(doc: dict[str, Any], key: str, config: EnvironmentConfig) -> None:
    envs = doc.get("environments")
    doc["environments"] = {
        **(envs if isinstance(envs, dict) else {}),
        key: config.model_dump(mode="json"),
    }


class EnvironmentCommands(FlagWriter):
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
