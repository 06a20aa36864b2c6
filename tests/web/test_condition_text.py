"""A condition's value as typed in the targeting form, and back: what is read is what the CLI's
`--when` reads, and a stored value written into the form reads back unchanged."""

from __future__ import annotations

from typing import Any

import pytest

from headway.flags.model import Condition
from headway.web.condition_text import describe_condition, text_of, value_of


@pytest.mark.parametrize(
    ("operator", "typed", "value"),
    [
        ("in", "NL, BE", ["NL", "BE"]),
        ("in", "[NL, BE]", ["NL", "BE"]),  # brackets around the short form
        ("in", '["NL", "BE"]', ["NL", "BE"]),  # JSON
        ("in", "1, true, null, NL,", [1, True, None, "NL"]),  # scalars; a trailing comma
        ("in", " , ", None),  # nothing: the service says it needs a value
        ("in_segment", "beta, staff", ["beta", "staff"]),
        ("flag_variant", "on", ["on"]),
        ("ip_in", "10.0.0.0/8, 192.168.0.0/16", ["10.0.0.0/8", "192.168.0.0/16"]),
        ("eq", "42", 42),
        ("eq", '"42"', "42"),  # quoted: text
        ("eq", "pro", "pro"),
        ("gt", "1.5", 1.5),
        ("matches", "[a-z]+@example\\.com", "[a-z]+@example\\.com"),  # never JSON
        ("starts_with", "beta-", "beta-"),
        ("starts_with", '["a", "b"]', ["a", "b"]),
        ("before", "2025-01-31T00:00:00Z", "2025-01-31T00:00:00Z"),
        ("exists", "", None),
    ],
)
def test_what_is_typed_reads_as(operator: str, typed: str, value: Any) -> None:
    assert value_of(operator, typed) == value
    assert type(value_of(operator, typed)) is type(value)


@pytest.mark.parametrize(
    ("operator", "value", "text"),
    [
        ("in", ["NL", "BE"], "NL, BE"),
        ("in", ["42"], '["42"]'),  # "42" would read as the number
        ("in", ["a,b"], '["a,b"]'),  # the comma would split it
        ("in", [1, True], "1, true"),
        ("eq", "5", '"5"'),
        ("eq", 5, "5"),
        ("eq", " x", '" x"'),  # the space would be lost
        ("starts_with", ["a", "b"], '["a", "b"]'),
        ("matches", "^(a|b)$", "^(a|b)$"),
        ("in_segment", ["beta"], "beta"),
        ("exists", None, ""),
    ],
)
def test_a_stored_value_is_written_so_it_reads_back(operator: str, value: Any, text: str) -> None:
    assert text_of(operator, value) == text
    assert value_of(operator, text) == (value if value is not None else None)


def test_conditions_in_words() -> None:
    def words(**fields: Any) -> str:
        return describe_condition(Condition.model_validate(fields))

    assert words(attribute="country", operator="in", value=["NL", "BE"]) == "country in NL, BE"
    assert words(attribute="targetingKey", operator="not_in_segment", value="beta") == (
        "targetingKey in none of segment beta"
    )
    assert words(attribute="dark-mode", operator="flag_variant", value=["on"]) == (
        "flag dark-mode serves on"
    )
    assert words(attribute="email", operator="exists") == "email is present"
