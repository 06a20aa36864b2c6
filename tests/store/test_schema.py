"""The schema declared in `headway.store.schema` is the one the migrations build."""

from __future__ import annotations

from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    DateTime,
    Double,
    Integer,
    Text,
    bindparam,
    select,
    text,
)

from headway.store import Store
from headway.store.schema import flags, metadata

# information_schema's names for the declared types, per engine
TYPES: dict[type[Any], dict[str, str]] = {
    Text: {"duckdb": "VARCHAR", "postgres": "text"},
    DateTime: {"duckdb": "TIMESTAMP", "postgres": "timestamp without time zone"},
    BigInteger: {"duckdb": "BIGINT", "postgres": "bigint"},
    Integer: {"duckdb": "INTEGER", "postgres": "integer"},
    Double: {"duckdb": "DOUBLE", "postgres": "double precision"},
    Boolean: {"duckdb": "BOOLEAN", "postgres": "boolean"},
}

SCHEMA = {"duckdb": "'main'", "postgres": "current_schema()"}


def _migrated(store: Store) -> dict[str, list[tuple[str, str, bool]]]:
    tables: dict[str, list[tuple[str, str, bool]]] = {}
    for table, column, kind, nullable in store.query(
        "SELECT table_name, column_name, data_type, is_nullable FROM information_schema.columns "
        f"WHERE table_schema = {SCHEMA[store.dialect]} ORDER BY table_name, ordinal_position"
    ):
        if not table.startswith("_headway_batch"):
            tables.setdefault(table, []).append((column, kind, nullable == "YES"))
    return tables


def _declared(dialect: str) -> dict[str, list[tuple[str, str, bool]]]:
    return {
        name: [(c.name, TYPES[type(c.type)][dialect], c.nullable is True) for c in table.columns]
        for name, table in metadata.tables.items()
    }


def test_every_table_and_column_is_declared_as_the_migrations_make_it(store: Store) -> None:
    assert _migrated(store) == _declared(store.dialect)


def test_primary_keys_are_declared_as_the_migrations_make_them(store: Store) -> None:
    if store.dialect == "duckdb":
        rows = store.query(
            "SELECT table_name, constraint_column_names FROM duckdb_constraints() "
            "WHERE constraint_type = 'PRIMARY KEY'"
        )
        migrated = {table: list(columns) for table, columns in rows}
    else:
        rows = store.query(
            "SELECT k.table_name, k.column_name FROM information_schema.table_constraints t "
            "JOIN information_schema.key_column_usage k USING (constraint_schema, constraint_name) "
            "WHERE t.constraint_type = 'PRIMARY KEY' AND t.table_schema = current_schema() "
            "ORDER BY k.table_name, k.ordinal_position"
        )
        migrated = {}
        for table, column in rows:
            migrated.setdefault(table, []).append(column)
    declared = {
        name: [c.name for c in table.primary_key.columns] for name, table in metadata.tables.items()
    }
    assert migrated == declared


def test_postgresql_has_exactly_the_declared_indexes(pg_schema_url: str) -> None:
    from headway.store.postgres import PostgresStore

    store = PostgresStore(pg_schema_url)
    store.migrate()
    rows = store.query(
        "SELECT i.relname, a.attname, x.indisunique FROM pg_index x "
        "JOIN pg_class i ON i.oid = x.indexrelid JOIN pg_class t ON t.oid = x.indrelid "
        "JOIN pg_namespace n ON n.oid = t.relnamespace "
        "JOIN LATERAL unnest(x.indkey) WITH ORDINALITY AS k(attnum, position) ON true "
        "JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = k.attnum "
        "WHERE n.nspname = current_schema() AND NOT x.indisprimary ORDER BY i.relname, k.position"
    )
    store.close()
    migrated: dict[str, tuple[list[str], bool]] = {}
    for name, column, unique in rows:
        migrated.setdefault(name, ([], unique))[0].append(column)
    declared = {
        index.name: ([c.name for c in index.columns], index.unique)
        for table in metadata.tables.values()
        for index in table.indexes
    }
    assert migrated == declared


def test_a_statement_runs_on_both_engines_with_any_value(store: Store) -> None:
    """Values are parameters, never SQL: quotes, `%`, `?` and `:name` are only data."""
    key = "a%s ? :key 'quoted' \"double\" ünï"
    store.run(
        text(
            "INSERT INTO flags VALUES (:key, 1, 'boolean', 'web', false, '{}', "
            "TIMESTAMP '2026-01-01', TIMESTAMP '2026-01-01')"
        ),
        key=key,
    )
    by_key = select(flags.c.key, flags.c.version).where(flags.c.key == bindparam("key"))
    assert store.rows(by_key, key=key) == [(key, 1)]
    assert store.rows(by_key, key="a") == []
    like = select(flags.c.key).where(flags.c.key.like("a\\%s%", escape="\\"))
    assert store.rows(like) == [(key,)]
    listed = select(flags.c.key).where(flags.c.key.in_([key, "other"]))
    assert store.dicts(listed) == [{"key": key}]
    # an IN list beside a bound value, in a statement kept between calls, takes each call's
    both = select(flags.c.key).where(
        flags.c.key.in_([key, "other"]), flags.c.version == bindparam("version")
    )
    assert store.rows(both, version=1) == [(key,)]
    assert store.rows(both, version=2) == []
    # and SQL run as written, with no parameters, leaves `?` and `%s` alone on both engines
    assert store.query("SELECT 'a%s ? %' AS x") == [("a%s ? %",)]
