"""GitHub App tables (migration 0016_github_app.sql): the only SQL for them."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from headway.store import Store

__all__ = [
    "AppCredentials",
    "Installation",
    "add_repository",
    "check_run",
    "insert_app",
    "insert_state",
    "load_app",
    "load_repositories",
    "pull_flags",
    "put_check_run",
    "put_pull_flags",
    "remove_installation",
    "remove_repository",
    "upsert_installation",
    "use_state",
]


def _naive(at: datetime) -> datetime:
    return at.astimezone(UTC).replace(tzinfo=None)


def _aware(at: datetime) -> datetime:
    return at.replace(tzinfo=UTC) if at.tzinfo is None else at


@dataclass(frozen=True, slots=True)
class AppCredentials:
    id: int
    slug: str
    name: str
    owner: str | None
    html_url: str | None
    url: str | None  # where this Headway answers, as the manifest said
    client_id: str | None
    client_secret: str | None
    private_key: str
    webhook_secret: str
    created_at: datetime

    def __repr__(self) -> str:  # never let a log line or a traceback print the secrets
        return f"AppCredentials(id={self.id}, slug={self.slug!r})"


@dataclass(frozen=True, slots=True)
class Installation:
    id: int
    account: str
    account_type: str | None


def insert_state(store: Store, state_hash: str, at: datetime) -> None:
    store.execute(
        "INSERT INTO github_manifest_states VALUES (?, ?, NULL)", [state_hash, _naive(at)]
    )


def use_state(store: Store, state_hash: str, at: datetime, oldest: datetime) -> bool:
    """Mark a state used; False when it is unknown, used already or older than `oldest`."""
    rows = store.query(
        "SELECT created_at, used_at FROM github_manifest_states WHERE state_hash = ?",
        [state_hash],
    )
    if not rows or rows[0][1] is not None or _aware(rows[0][0]) < oldest:
        return False
    store.execute(
        "UPDATE github_manifest_states SET used_at = ? WHERE state_hash = ?",
        [_naive(at), state_hash],
    )
    return True


def insert_app(store: Store, app: AppCredentials) -> None:
    store.execute("DELETE FROM github_apps WHERE id = ?", [app.id])
    store.execute(
        "INSERT INTO github_apps VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [
            app.id,
            app.slug,
            app.name,
            app.owner,
            app.html_url,
            app.url,
            app.client_id,
            app.client_secret,
            app.private_key,
            app.webhook_secret,
            _naive(app.created_at),
        ],
    )


def load_app(store: Store) -> AppCredentials | None:
    """The newest app this server was made into (one server is one app)."""
    rows = store.query(
        "SELECT id, slug, name, owner, html_url, url, client_id, client_secret, private_key, "
        "webhook_secret, created_at FROM github_apps ORDER BY created_at DESC, id DESC LIMIT 1"
    )
    if not rows:
        return None
    row: list[Any] = list(rows[0])
    row[10] = _aware(row[10])
    return AppCredentials(*row)


def upsert_installation(
    store: Store, app_id: int, installation: Installation, at: datetime
) -> None:
    store.execute("DELETE FROM github_installations WHERE id = ?", [installation.id])
    store.execute(
        "INSERT INTO github_installations VALUES (?, ?, ?, ?, ?, NULL)",
        [installation.id, app_id, installation.account, installation.account_type, _naive(at)],
    )


def remove_installation(store: Store, installation_id: int, at: datetime) -> None:
    store.execute(
        "UPDATE github_installations SET removed_at = ? WHERE id = ?", [_naive(at), installation_id]
    )
    store.execute(
        "UPDATE github_repositories SET removed_at = ? "
        "WHERE installation_id = ? AND removed_at IS NULL",
        [_naive(at), installation_id],
    )


def add_repository(
    store: Store, installation_id: int, repo_id: int, full_name: str, service: str, at: datetime
) -> None:
    store.execute(
        "DELETE FROM github_repositories WHERE installation_id = ? AND id = ?",
        [installation_id, repo_id],
    )
    store.execute(
        "INSERT INTO github_repositories VALUES (?, ?, ?, ?, ?, NULL)",
        [installation_id, repo_id, full_name, service, _naive(at)],
    )


def remove_repository(store: Store, installation_id: int, repo_id: int, at: datetime) -> None:
    store.execute(
        "UPDATE github_repositories SET removed_at = ? WHERE installation_id = ? AND id = ?",
        [_naive(at), installation_id, repo_id],
    )


def load_repositories(store: Store) -> list[tuple[int, str, str]]:
    """(installation, full name, service) of every repository an installation grants now."""
    rows = store.query(
        "SELECT installation_id, full_name, service FROM github_repositories "
        "WHERE removed_at IS NULL ORDER BY full_name"
    )
    return [(int(i), str(name), str(service)) for i, name, service in rows]


def put_pull_flags(
    store: Store,
    repository: str,
    number: int,
    head_sha: str,
    changes: Sequence[tuple[str, str]],
    at: datetime,
) -> None:
    """Replace what a pull request does to flags: (flag, added|used|removed) as of `head_sha`."""
    store.execute(
        "DELETE FROM github_pull_flags WHERE repository = ? AND number = ?", [repository, number]
    )
    for flag, change in changes:
        store.execute(
            "INSERT INTO github_pull_flags VALUES (?, ?, ?, ?, ?, ?)",
            [repository, number, flag, change, head_sha, _naive(at)],
        )


def pull_flags(store: Store, repository: str, number: int) -> list[tuple[str, str]]:
    rows = store.query(
        "SELECT flag, change FROM github_pull_flags WHERE repository = ? AND number = ? "
        "ORDER BY flag",
        [repository, number],
    )
    return [(str(f), str(c)) for f, c in rows]


def check_run(store: Store, repository: str, head_sha: str) -> int | None:
    rows = store.query(
        "SELECT check_run_id FROM github_check_runs WHERE repository = ? AND head_sha = ?",
        [repository, head_sha],
    )
    return int(rows[0][0]) if rows else None


def put_check_run(
    store: Store, repository: str, head_sha: str, check_run_id: int, number: int, at: datetime
) -> None:
    store.execute(
        "DELETE FROM github_check_runs WHERE repository = ? AND head_sha = ?",
        [repository, head_sha],
    )
    store.execute(
        "INSERT INTO github_check_runs VALUES (?, ?, ?, ?, ?)",
        [repository, head_sha, check_run_id, number, _naive(at)],
    )
