"""The canonical store: one place that opens the database, migrates it, and writes to it.

DuckDB (an embedded file, the default) and PostgreSQL are both supported. The schema is
declared once (`schema/`), and every statement that carries a value is built from it with
SQLAlchemy Core, in the store's modules (one per area: `flags`, `tokens`, `rollouts`,
`linking`, …) or in the metrics query package, and compiled for each engine by
`statements.py`. SQL text runs only as written, without parameters (the migrations).

Owns: connections, the schema and its migrations, every statement and the modules that run
them, writes, the one-writer lock of DuckDB, and the encryption of the secrets it keeps
(`sealing`, under HEADWAY_SECRET_KEY).
May import: `config`, `model` and `audited`; everything else imports the store, never the reverse.
"""

from __future__ import annotations

from pathlib import Path

from headway.config import Settings, get_settings
from headway.store.base import Store, StoreBusyError, StoreError, StoreUnavailable, WriteResult

__all__ = [
    "Store",
    "StoreBusyError",
    "StoreError",
    "StoreUnavailable",
    "WriteResult",
    "open_store",
]


# How long a server starting waits for another one's migrations to finish.
MIGRATE_WAIT_S = 600.0


def open_store(settings: Settings | None = None, *, migrate: bool = True) -> Store:
    """Open (and by default migrate) the store the settings name."""
    settings = settings or get_settings()
    store: Store
    if settings.is_postgres:
        from headway.store.postgres import PostgresStore  # psycopg only when needed

        store = PostgresStore(settings.database)
    else:
        from headway.store.duck import DuckStore

        store = DuckStore(Path(settings.database))
    if migrate:
        from headway.store.locks import Exclusive

        # Replicas started together on one PostgreSQL would each apply the same migration,
        # and all but one fail on the tables the first created: one migrates, the others
        # wait, then find nothing left to do.
        try:
            with Exclusive(store, "headway.migrate", wait_s=MIGRATE_WAIT_S).held():
                store.migrate()
        except BaseException:
            store.close()
            raise
    return store
