"""Statements over a list of values (`id IN (…)`) that are compiled once, not once per call.

A statement holding `col.in_(values)` is compiled with its values, so a new one per call costs
a compile per call: about 0.1 ms on an idle machine for the smallest, several for a wide
select, more than the query takes to run. The write path asks such questions a dozen times per
webhook group, so a `ByList` builds its statement once per list size, from a few sizes (1,
4, 16, 64, 256 and `CHUNK`), with a `bindparam` per value, and fills a shorter list by
repeating its last value: `IN (a, b, b, b)` means `IN (a, b)`. Each size compiles once per
store.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Iterator
from typing import Any

from sqlalchemy import BindParameter, ColumnElement, bindparam, literal
from sqlalchemy.sql.expression import ClauseElement

from headway.store.base import Store

CHUNK = 500  # values per statement, at most
_SIZES = (1, 4, 16, 64, 256, CHUNK)


def _size(n: int) -> int:
    return min(s for s in _SIZES if s >= n)


def chunks(values: Iterable[Any]) -> Iterator[list[Any]]:
    """`values`, sorted, in parts of at most `CHUNK`: the parts `ByList` runs."""
    ordered = sorted(set(values))
    for i in range(0, len(ordered), CHUNK):
        yield ordered[i : i + CHUNK]


def one_of(column: ColumnElement[Any], values: Iterable[Any]) -> ColumnElement[bool]:
    """`column IN (…)` for a few values fixed when the statement is built, each a parameter
    with its value. (`column.in_(values)` would compile only with the values of the statement's
    other parameters at hand, as it writes its list out at compile time.)"""
    return column.in_([literal(v) for v in values])


class ByList:
    """A statement over a list of values: `build` gets one `bindparam` per value (named
    `v0`, `v1`, …) and returns the statement; its other `bindparam`s are given per run."""

    def __init__(self, build: Callable[[list[BindParameter[Any]]], ClauseElement]) -> None:
        self._build = build
        self._built: dict[int, ClauseElement] = {}

    def statement(self, size: int) -> ClauseElement:
        """The statement for lists of `size` values (a size of `_SIZES`)."""
        built = self._built.get(size)
        if built is None:
            built = self._built[size] = self._build([bindparam(f"v{i}") for i in range(size)])
        return built

    def parts(self, values: Collection[Any]) -> Iterator[tuple[ClauseElement, dict[str, Any]]]:
        """The statement and its list's values for each part of `values`, sorted, at most
        `CHUNK` a part; nothing for no values."""
        for part in chunks(values):
            size = _size(len(part))
            filled = part + [part[-1]] * (size - len(part))
            yield self.statement(size), {f"v{j}": v for j, v in enumerate(filled)}

    def rows(self, store: Store, values: Collection[Any], **more: Any) -> list[tuple[Any, ...]]:
        """The rows the statement answers for every part of `values`; `more` fills its other
        `bindparam`s."""
        return [row for stmt, v in self.parts(values) for row in store.rows(stmt, **v, **more)]

    def run(self, store: Store, values: Collection[Any], **more: Any) -> None:
        """Run the statement (an insert, update or delete) for every part of `values`."""
        for stmt, v in self.parts(values):
            store.run(stmt, **v, **more)


def together(store: Store, *asked: tuple[ByList, Collection[Any]]) -> list[list[tuple[Any, ...]]]:
    """`ByList.rows` of each (statement, values) in `asked`, read together: on a database
    server one round trip for all of them (`Store.rows_each`), rather than one each."""
    parts = [
        (n, part) for n, (by_list, values) in enumerate(asked) for part in by_list.parts(values)
    ]
    answers: list[list[tuple[Any, ...]]] = [[] for _ in asked]
    for (n, _), rows in zip(parts, store.rows_each([part for _, part in parts]), strict=True):
        answers[n] += rows
    return answers


__all__ = ["CHUNK", "ByList", "chunks", "one_of", "together"]
