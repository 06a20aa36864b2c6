"""PostgreSQL parameters: a `?` is rewritten to psycopg's `%s` only outside quoted text, so a
name such as "Is checkout up?" inside a literal stays data."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from headway.store.postgres import PostgresStore, placeholders


@pytest.mark.parametrize(
    ("sql", "expected"),
    [
        ("SELECT ? WHERE a = 'x?'", "SELECT %s WHERE a = 'x?'"),
        ("'it''s ?' ?", "'it''s ?' %s"),
        ("E'\\'?' ?", "E'\\'?' %s"),
        ('SELECT "a?b" FROM t WHERE c = ?', 'SELECT "a?b" FROM t WHERE c = %s'),
        ("-- ?\n? /* ? */ ?", "-- ?\n%s /* ? */ %s"),
        ("-- ?\r?", "-- ?\r%s"),  # PostgreSQL ends a line comment at \r too
        ("$$ ? $$ $q$ ? $q$ ?", "$$ ? $$ $q$ ? $q$ %s"),
        ("a$b$ ?", "a$b$ %s"),  # `$` inside an identifier opens no dollar quote
        ("'unterminated ?", "'unterminated ?"),
        ("SELECT 5 % 2, '%s'", "SELECT 5 %% 2, '%%s'"),
    ],
)
def test_only_a_question_mark_outside_quotes_is_a_parameter(sql: str, expected: str) -> None:
    assert placeholders(sql) == expected


@pytest.fixture
def pg(postgres_url: str) -> Iterator[PostgresStore]:
    store = PostgresStore(postgres_url)
    yield store
    store.close()


# Any text PostgreSQL can hold (no NUL, no lone surrogate), rich in the characters that matter.
_TEXT = st.text(
    alphabet=st.one_of(
        st.sampled_from("?'\"\\%$-*/\n{}sE"),
        st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"),
    ),
    max_size=12,
)


@st.composite
def _item(draw: st.DrawFn) -> tuple[str, list[Any], Any]:
    """One select item: its SQL, the parameters it binds, and the value it must return."""
    text = draw(_TEXT)
    kind = draw(st.sampled_from(["literal", "escape", "dollar", "parameter", "number"]))
    if kind == "literal":
        return "'" + text.replace("'", "''") + "'", [], text
    if kind == "escape":
        escaped = text.replace("\\", "\\\\").replace("'", "\\'")
        return "E'" + escaped + "'", [], text
    if kind == "dollar" and "$q$" not in text and not text.endswith("$q"):
        return "$q$" + text + "$q$", [], text
    if kind == "number":
        number = draw(st.integers(-(2**62), 2**62))
        return "CAST(? AS BIGINT)", [number], number
    return "CAST(? AS TEXT)", [text], text


@st.composite
def _noise(draw: st.DrawFn) -> str:
    """What may sit between items without changing the result: comments, quoted aliases."""
    text = draw(_TEXT)
    return draw(
        st.sampled_from(
            [
                " ",
                " /* " + text.replace("*/", "") + " */ ",
                " -- " + text.replace("\n", "").replace("\r", "") + "\n",
            ]
        )
    )


@pytest.mark.postgres
def test_literals_keep_their_text_and_parameters_bind_in_order(pg: PostgresStore) -> None:
    """Random SELECTs of literals (plain, E'' and dollar-quoted), parameters and comments,
    all full of `?`, `%`, quotes and backslashes: every literal reads back as written and
    every parameter as bound, in order. The old rewriting turned each `?` in a literal into
    a placeholder, so any example with one failed."""

    @settings(max_examples=300, deadline=None)
    @given(items=st.lists(st.tuples(_item(), _noise()), min_size=1, max_size=6))
    def check(items: list[tuple[tuple[str, list[Any], Any], str]]) -> None:
        sql = "SELECT " + ", ".join(
            f'{item} AS "c{i}?"{noise}' for i, ((item, _, _), noise) in enumerate(items)
        )
        params = [p for (_, bound, _), _ in items for p in bound]
        assert pg.query(sql, params) == [tuple(value for (_, _, value), _ in items)]

    check()
