"""A change's diff, leaf by leaf."""

from __future__ import annotations

from headway.web.diff import changed


def test_only_the_leaves_that_moved_are_listed_by_path() -> None:
    before = {"environments": {"production": {"enabled": True, "rules": []}}, "version": 3}
    after = {"environments": {"production": {"enabled": False, "rules": []}}, "version": 4}
    assert changed(before, after) == [
        ("environments.production.enabled", "true", "false"),
        ("version", "3", "4"),
    ]


def test_added_and_removed_keys_show_a_dash_on_the_other_side() -> None:
    assert changed({"a": 1}, {"b": [1, 2]}) == [("a", "1", "–"), ("b", "–", "[1, 2]")]
    assert changed(None, {"kind": "viewer"}) == [("(whole)", "null", '{"kind": "viewer"}')]


def test_a_long_value_is_cut_and_a_long_list_of_changes_too() -> None:
    [(_, _, text)] = changed({"d": ""}, {"d": "x" * 500})
    assert len(text) == 118
    assert text.endswith("…")
    many = changed({}, {f"k{i:02}": i for i in range(30)})
    assert len(many) == 20


def test_lists_are_compared_item_by_item() -> None:
    before = {"rules": [{"id": "a", "value": ["NL"]}]}
    after = {"rules": [{"id": "a", "value": ["NL", "BE"]}, {"id": "b"}]}
    assert changed(before, after) == [
        ("rules.0.value.1", "–", '"BE"'),
        ("rules.1", "–", '{"id": "b"}'),
    ]
    # an empty list on either side is one change, not one per item
    assert changed({"rules": []}, {"rules": [1, 2]}) == [("rules", "[]", "[1, 2]")]
