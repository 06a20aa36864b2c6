"""The command-line reference in docs/ is generated from the commands and must not drift."""

from __future__ import annotations

from pathlib import Path

from headway.cli.reference import reference

DOC = Path(__file__).parents[2] / "docs" / "cli.md"


def test_docs_cli_md_matches_the_commands() -> None:
    assert DOC.read_text() == reference(), (
        "docs/cli.md is out of date: run `python -m headway.cli.reference > docs/cli.md`"
    )
