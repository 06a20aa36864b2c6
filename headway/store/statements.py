"""Statements built with SQLAlchemy Core, compiled once per engine and run with their values.

Both engines speak PostgreSQL's SQL (DuckDB follows it closely), so a statement is compiled by
SQLAlchemy's PostgreSQL compiler: with `%s` parameters for psycopg (which doubles every literal
`%`) and with `?` for DuckDB. Nothing rewrites SQL text.

Compiling takes about 0.1 ms, more than many of the store's queries take to run, so compiled
statements are kept: a statement built once at import (a module constant, with `bindparam`s
for its values) compiles once per store. A statement built per call is compiled per call.
An IN list (`column.in_(values)`) is written out with one parameter per value at each call,
from the kept compiled form.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Mapping
from typing import Any, cast

from sqlalchemy import Insert, Table, bindparam, insert
from sqlalchemy.dialects.postgresql.base import PGDialect
from sqlalchemy.engine.interfaces import Dialect
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.expression import ClauseElement

#: How many compiled statements a store keeps; the module constants number about two hundred.
KEEP = 512
# How SQLAlchemy marks an IN list in a compiled statement, to be written out per execution.
_EXPANDS = "__[POSTCOMPILE_"

DIALECTS: dict[str, Dialect] = {
    "duckdb": PGDialect(paramstyle="qmark"),  # type: ignore[no-untyped-call]
    "postgres": PGDialect(paramstyle="format"),  # type: ignore[no-untyped-call]
}


class Compiler:
    """A store's compiled statements, the most recently used kept."""

    def __init__(self, dialect: str) -> None:
        self.dialect = DIALECTS[dialect]
        self._kept: OrderedDict[int, tuple[ClauseElement, SQLCompiler]] = OrderedDict()

    def __call__(
        self, statement: ClauseElement, values: Mapping[str, Any]
    ) -> tuple[str, list[Any]]:
        """The SQL text of `statement` for this engine, and its parameters in order."""
        compiled = self._compiled(statement)
        if _EXPANDS in compiled.string:  # an IN list: written out with this call's values
            state = compiled.construct_expanded_state(values)
            return state.statement, [state.parameters[name] for name in state.positiontup or ()]
        params = compiled.construct_params(values)
        return compiled.string, [params[name] for name in compiled.positiontup or ()]

    def _compiled(self, statement: ClauseElement) -> SQLCompiler:
        kept = self._kept.get(id(statement))
        if kept is not None and kept[0] is statement:  # the id of a live object is its own
            self._kept.move_to_end(id(statement))
            return kept[1]
        compiled = cast(SQLCompiler, statement.compile(dialect=self.dialect))
        self._kept[id(statement)] = (statement, compiled)
        if len(self._kept) > KEEP:
            self._kept.popitem(last=False)
        return compiled


def insert_into(table: Table, *names: str) -> Insert:
    """An INSERT of the named columns of `table`, each value the bindparam of its name.

    A bare `insert(table)` compiles with every declared column, so a column added later
    (nullable, or with a default) would make each of its inserts fail for want of a value;
    naming the columns leaves such a column to its default."""
    return insert(table).values({name: bindparam(name) for name in names})
