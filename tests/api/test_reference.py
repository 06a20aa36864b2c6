"""The JSON references in docs/ are generated from the models and must not drift."""

from __future__ import annotations

from pathlib import Path

from headway.api.reference import api_reference, metrics_reference

DOCS = Path(__file__).parents[2] / "docs"
REWRITE = "run `python -m headway.api.reference`"


def test_docs_metrics_json_md_matches_the_result_models() -> None:
    assert (DOCS / "metrics-json.md").read_text() == metrics_reference(), (
        f"docs/metrics-json.md is out of date: {REWRITE}"
    )


def test_docs_api_md_matches_the_routes() -> None:
    assert (DOCS / "api.md").read_text() == api_reference(), (
        f"docs/api.md is out of date: {REWRITE}"
    )


def test_every_field_of_a_result_is_in_the_reference() -> None:
    # A field the reference leaves out is one a consumer cannot know about: the sample
    # fields here are a nested one, an aliased one and one present only sometimes.
    text = metrics_reference()
    for field in ("`oldest_change`", "`from`", "`trend`", "`iqr_over_median`", "`answer_hint`"):
        assert field in text
