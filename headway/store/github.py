"""The GitHub App's tables (migration 0016_github_app.sql): its registration, manifest states,
installations, repositories, check runs and what pull requests do to flags.

`headway.github` reads and writes them only through these functions. Replacing a row is a
delete and an insert, in the caller's transaction. The app's private key, webhook secret and
client secret are written sealed (`headway.store.sealing`) and opened as they are read.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Insert, Table, bindparam, delete, insert, select, update
from sqlalchemy.dialects.postgresql import insert as upsert

from headway.store.base import Store
from headway.store.schema import (
    github_apps,
    github_check_runs,
    github_installations,
    github_manifest_states,
    github_pull_flags,
    github_repositories,
)
from headway.store.sealing import Keyring, is_sealed

__all__ = [
    "SECRET_COLUMNS",
    "AppCredentials",
    "Installation",
    "SealReport",
    "add_repository",
    "check_run",
    "check_run_claim",
    "claim_check_run",
    "drop_claim",
    "insert_app",
    "insert_state",
    "load_app",
    "load_repositories",
    "pull_flags",
    "put_check_run",
    "put_pull_flags",
    "remove_installation",
    "remove_repository",
    "seal_apps",
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
    encrypted: bool = False  # as read: whether the store held every secret sealed

    def __repr__(self) -> str:  # never let a log line or a traceback print the secrets
        return f"AppCredentials(id={self.id}, slug={self.slug!r})"


@dataclass(frozen=True, slots=True)
class SealReport:
    """What `seal_apps` did: the apps whose secrets it sealed (from plain text or the previous
    key), and those left in plain text because no key is set."""

    sealed: tuple[int, ...]
    plain: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class Installation:
    id: int
    account: str
    account_type: str | None


def _insert(table: Table, *columns: str) -> Insert:
    """An insert of `columns` (every column when none is named), each from the parameter of
    its name; the columns left out are NULL."""
    names = columns or tuple(c.name for c in table.columns)
    return insert(table).values({name: bindparam(name) for name in names})


_s = github_manifest_states.c
_INSERT_STATE = _insert(github_manifest_states, "state_hash", "created_at")
_STATE = select(_s.created_at, _s.used_at).where(_s.state_hash == bindparam("state_hash"))
_USE_STATE = (
    update(github_manifest_states)
    .where(_s.state_hash == bindparam("state_hash"))
    .values(used_at=bindparam("used_at"))
)

_a = github_apps.c
_DELETE_APP = delete(github_apps).where(_a.id == bindparam("app_id"))
_INSERT_APP = _insert(github_apps)
# In the order of AppCredentials' fields.
_NEWEST_APP = (
    select(
        _a.id,
        _a.slug,
        _a.name,
        _a.owner,
        _a.html_url,
        _a.url,
        _a.client_id,
        _a.client_secret,
        _a.private_key,
        _a.webhook_secret,
        _a.created_at,
    )
    .order_by(_a.created_at.desc(), _a.id.desc())
    .limit(1)
)
SECRET_COLUMNS = ("client_secret", "private_key", "webhook_secret")
_APP_SECRETS = select(_a.id, *(_a[name] for name in SECRET_COLUMNS)).order_by(_a.id)
_SEAL_APP = (
    update(github_apps)
    .where(_a.id == bindparam("app_id"))
    .values({name: bindparam(f"new_{name}") for name in SECRET_COLUMNS})
)

_i = github_installations.c
_DELETE_INSTALLATION = delete(github_installations).where(_i.id == bindparam("installation"))
_INSERT_INSTALLATION = _insert(
    github_installations, "id", "app_id", "account", "account_type", "created_at"
)
_REMOVE_INSTALLATION = (
    update(github_installations)
    .where(_i.id == bindparam("installation"))
    .values(removed_at=bindparam("at"))
)

_r = github_repositories.c
_REMOVE_REPOSITORIES_OF = (
    update(github_repositories)
    .where(_r.installation_id == bindparam("installation"), _r.removed_at.is_(None))
    .values(removed_at=bindparam("at"))
)
_DELETE_REPOSITORY = delete(github_repositories).where(
    _r.installation_id == bindparam("installation"), _r.id == bindparam("repo")
)
_INSERT_REPOSITORY = _insert(
    github_repositories, "installation_id", "id", "full_name", "service", "added_at"
)
_REMOVE_REPOSITORY = (
    update(github_repositories)
    .where(_r.installation_id == bindparam("installation"), _r.id == bindparam("repo"))
    .values(removed_at=bindparam("at"))
)
_REPOSITORIES = (
    select(_r.installation_id, _r.full_name, _r.service)
    .where(_r.removed_at.is_(None))
    .order_by(_r.full_name)
)

_p = github_pull_flags.c
_DELETE_PULL_FLAGS = delete(github_pull_flags).where(
    _p.repository == bindparam("repository"), _p.number == bindparam("number")
)
_INSERT_PULL_FLAG = _insert(github_pull_flags)
_PULL_FLAGS = (
    select(_p.flag, _p.change)
    .where(_p.repository == bindparam("repository"), _p.number == bindparam("number"))
    .order_by(_p.flag)
)

_c = github_check_runs.c
_CHECK_RUN = select(_c.check_run_id).where(
    _c.repository == bindparam("repository"), _c.head_sha == bindparam("head_sha")
)
_DELETE_CHECK_RUN = delete(github_check_runs).where(
    _c.repository == bindparam("repository"), _c.head_sha == bindparam("head_sha")
)
_INSERT_CHECK_RUN = _insert(github_check_runs)
# A head's check run is claimed before GitHub is asked to create it: the row with id 0 says
# "being created", and of several servers only the one whose insert went in creates it.
_CLAIM_CHECK_RUN = (
    upsert(github_check_runs)
    .values({c.name: bindparam(c.name) for c in github_check_runs.columns})
    .on_conflict_do_nothing()
    .returning(github_check_runs.c.head_sha)
)
_CLAIM_OF = select(_c.check_run_id, _c.updated_at).where(
    _c.repository == bindparam("repository"), _c.head_sha == bindparam("head_sha")
)
_LET_GO = delete(github_check_runs).where(
    _c.repository == bindparam("repository"),
    _c.head_sha == bindparam("head_sha"),
    _c.check_run_id == 0,
)
_DROP_CLAIM = delete(github_check_runs).where(
    _c.repository == bindparam("repository"),
    _c.head_sha == bindparam("head_sha"),
    _c.check_run_id == 0,
    _c.updated_at < bindparam("before"),
)


def insert_state(store: Store, state_hash: str, at: datetime) -> None:
    store.run(_INSERT_STATE, state_hash=state_hash, created_at=_naive(at))


def use_state(store: Store, state_hash: str, at: datetime, oldest: datetime) -> bool:
    """Mark a state used; False when it is unknown, used already or older than `oldest`."""
    rows = store.rows(_STATE, state_hash=state_hash)
    if not rows or rows[0][1] is not None or _aware(rows[0][0]) < oldest:
        return False
    store.run(_USE_STATE, state_hash=state_hash, used_at=_naive(at))
    return True


def _where(app_id: int, column: str) -> str:
    """Where a sealed value belongs: its additional data, and how errors name it."""
    return f"github_apps.{column}.{app_id}"


def insert_app(store: Store, app: AppCredentials, keys: Keyring) -> None:
    """Store the app, its secrets sealed with the current key (NoSecretKey without one)."""
    values = {name: getattr(app, name) for name in SECRET_COLUMNS}
    sealed = {
        name: None if value is None else keys.seal(value, _where(app.id, name))
        for name, value in values.items()
    }
    store.run(_DELETE_APP, app_id=app.id)
    store.run(
        _INSERT_APP,
        id=app.id,
        slug=app.slug,
        name=app.name,
        owner=app.owner,
        html_url=app.html_url,
        url=app.url,
        client_id=app.client_id,
        created_at=_naive(app.created_at),
        **sealed,
    )


def load_app(store: Store, keys: Keyring) -> AppCredentials | None:
    """The newest app this server was made into (one server is one app), its secrets opened;
    SealError when they cannot be with the keys given."""
    rows = store.rows(_NEWEST_APP)
    if not rows:
        return None
    row: list[Any] = list(rows[0])
    app_id, stored = int(row[0]), dict(zip(SECRET_COLUMNS, row[7:10], strict=True))
    row[7:10] = [
        None if value is None else keys.open(value, _where(app_id, name))
        for name, value in stored.items()
    ]
    row[10] = _aware(row[10])
    encrypted = all(value is None or is_sealed(value) for value in stored.values())
    return replace(AppCredentials(*row), encrypted=encrypted)


def seal_apps(store: Store, keys: Keyring) -> SealReport:
    """Seal with the current key every app secret stored in plain text (by a store from before
    sealing) or with the previous key; SealError names a value no key given opens."""
    sealed, plain = [], []
    with store.transaction() as tx:
        for app_id, *values in tx.rows(_APP_SECRETS):
            stored = dict(zip(SECRET_COLUMNS, values, strict=True))
            present = {name: value for name, value in stored.items() if value is not None}
            if not keys.can_seal:
                if not all(is_sealed(value) for value in present.values()):
                    plain.append(int(app_id))
                continue
            if not any(keys.stale(value) for value in present.values()):
                continue
            again = {
                f"new_{name}": None
                if value is None
                else keys.seal(keys.open(value, _where(app_id, name)), _where(app_id, name))
                for name, value in stored.items()
            }
            tx.run(_SEAL_APP, app_id=app_id, **again)
            sealed.append(int(app_id))
    return SealReport(tuple(sealed), tuple(plain))


def upsert_installation(
    store: Store, app_id: int, installation: Installation, at: datetime
) -> None:
    store.run(_DELETE_INSTALLATION, installation=installation.id)
    store.run(
        _INSERT_INSTALLATION,
        id=installation.id,
        app_id=app_id,
        account=installation.account,
        account_type=installation.account_type,
        created_at=_naive(at),
    )


def remove_installation(store: Store, installation_id: int, at: datetime) -> None:
    store.run(_REMOVE_INSTALLATION, installation=installation_id, at=_naive(at))
    store.run(_REMOVE_REPOSITORIES_OF, installation=installation_id, at=_naive(at))


def add_repository(
    store: Store, installation_id: int, repo_id: int, full_name: str, service: str, at: datetime
) -> None:
    store.run(_DELETE_REPOSITORY, installation=installation_id, repo=repo_id)
    store.run(
        _INSERT_REPOSITORY,
        installation_id=installation_id,
        id=repo_id,
        full_name=full_name,
        service=service,
        added_at=_naive(at),
    )


def remove_repository(store: Store, installation_id: int, repo_id: int, at: datetime) -> None:
    store.run(_REMOVE_REPOSITORY, installation=installation_id, repo=repo_id, at=_naive(at))


def load_repositories(store: Store) -> list[tuple[int, str, str]]:
    """(installation, full name, service) of every repository an installation grants now."""
    return [(int(i), str(name), str(service)) for i, name, service in store.rows(_REPOSITORIES)]


def put_pull_flags(
    store: Store,
    repository: str,
    number: int,
    head_sha: str,
    changes: Sequence[tuple[str, str]],
    at: datetime,
) -> None:
    """Replace what a pull request does to flags: (flag, added|used|removed) as of `head_sha`."""
    store.run(_DELETE_PULL_FLAGS, repository=repository, number=number)
    for flag, change in changes:
        store.run(
            _INSERT_PULL_FLAG,
            repository=repository,
            number=number,
            flag=flag,
            change=change,
            head_sha=head_sha,
            updated_at=_naive(at),
        )


def pull_flags(store: Store, repository: str, number: int) -> list[tuple[str, str]]:
    rows = store.rows(_PULL_FLAGS, repository=repository, number=number)
    return [(str(f), str(c)) for f, c in rows]


def check_run(store: Store, repository: str, head_sha: str) -> int | None:
    rows = store.rows(_CHECK_RUN, repository=repository, head_sha=head_sha)
    return int(rows[0][0]) if rows else None


def claim_check_run(
    store: Store, repository: str, head_sha: str, number: int, at: datetime, stale: datetime
) -> bool:
    """Claim the creation of `head_sha`'s check run; False when another server holds it (or
    has created it). A claim left since before `stale` (its server died) is taken over."""
    store.run(_DROP_CLAIM, repository=repository, head_sha=head_sha, before=_naive(stale))
    rows = store.rows(
        _CLAIM_CHECK_RUN,
        repository=repository,
        head_sha=head_sha,
        check_run_id=0,
        number=number,
        updated_at=_naive(at),
    )
    return bool(rows)


def drop_claim(store: Store, repository: str, head_sha: str) -> None:
    """Let go of a claim whose creation failed."""
    store.run(_LET_GO, repository=repository, head_sha=head_sha)


def check_run_claim(store: Store, repository: str, head_sha: str) -> int | None:
    """The head's check run id; 0 while a server is creating it; None with no claim."""
    rows = store.rows(_CLAIM_OF, repository=repository, head_sha=head_sha)
    return int(rows[0][0]) if rows else None


def put_check_run(
    store: Store, repository: str, head_sha: str, check_run_id: int, number: int, at: datetime
) -> None:
    store.run(_DELETE_CHECK_RUN, repository=repository, head_sha=head_sha)
    store.run(
        _INSERT_CHECK_RUN,
        repository=repository,
        head_sha=head_sha,
        check_run_id=check_run_id,
        number=number,
        updated_at=_naive(at),
    )
