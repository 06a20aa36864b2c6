"""Any value is only data: statements are compiled by SQLAlchemy with parameters, so no text a
value holds (`?`, `%s`, `:name`, quotes, `$$`, comment marks, backslashes) is read as SQL, on
either engine. The store once rewrote `?` placeholders itself, and a `?` inside a literal
became a parameter."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import Text, bindparam, literal, select, text

from headway.store import Store
from headway.store.schema import services

# Text as users type it, NUL aside (refused at every boundary: docs/decisions.md).
VALUES = st.text(st.characters(blacklist_characters="\x00", blacklist_categories=["Cs"]))
NOISE = st.sampled_from(["?", "%s", "%%", ":name", "'", '"', "$$", "--", "/*", "\\", "%(x)s"])


def test_values_bound_in_any_order_read_back_as_written(store: Store) -> None:
    @settings(max_examples=150, deadline=None)
    @given(st.lists(st.tuples(VALUES, NOISE).map("".join), min_size=1, max_size=6))
    def check(values: list[str]) -> None:
        statement = select(*(literal(v, Text).label(f"c{i}") for i, v in enumerate(values)))
        assert store.rows(statement) == [tuple(values)]

    check()


def test_a_name_full_of_sql_is_stored_and_found_by_it(store: Store) -> None:
    insert = services.insert().values(name=bindparam("n"), context="product")
    named = select(services.c.name).where(services.c.name == bindparam("n"))

    @settings(max_examples=60, deadline=None)
    @given(st.tuples(NOISE, VALUES, NOISE).map("".join))
    def check(name: str) -> None:
        store.run(text("DELETE FROM services"))
        store.run(insert, n=name)
        assert store.rows(named, n=name) == [(name,)]

    check()
