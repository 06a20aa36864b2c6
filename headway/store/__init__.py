"""The canonical store: one place that opens the database, migrates it, and writes to it.

DuckDB (an embedded file, the default) and PostgreSQL are both supported. SQL text is written
once in the subset both engines share, with `?` placeholders; the PostgreSQL backend rewrites
them to psycopg's `%s`.
"""

from __future__ import annotations

from headway.store.base import Store, StoreBusyError, StoreError, WriteResult, open_store

__all__ = ["Store", "StoreBusyError", "StoreError", "WriteResult", "open_store"]
