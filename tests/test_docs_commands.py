"""Every `headway …` command the README and docs name exists as written.

A page names commands in code blocks and in running text (`headway flags set KEY --service
NAME`). Each is checked against the CLI itself: every word before the first option is a
command of the group before it (`a|b` names several, each checked), every option is one the
command takes. Placeholders are skipped: words in capitals (`KEY`, `DIR`), `…`,
`<owner/repo>`, and the brackets of optional parts. The pages that run as written are run by
tests/test_readme.py; this keeps the reference pages from naming a command or option that
does not exist. docs/cli.md is generated from the CLI and not checked here.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import typer

from headway.cli import app

ROOT = Path(__file__).resolve().parents[1]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
GENERATED = {"cli.md"}


def mentions(markdown: str) -> Iterator[str]:
    """Each `headway …` command of a page: code lines (a trailing `\\` joins the next) and
    inline code in running text."""
    for body in re.findall(r"^```\w*\n(.*?)^```", markdown, re.S | re.M):
        for line in body.replace("\\\n", " ").splitlines():
            line = line.strip().removeprefix("$ ")
            if line.startswith("headway "):
                yield line
    prose = re.sub(r"^```\w*\n.*?^```", "", markdown, flags=re.S | re.M)
    yield from re.findall(r"`(headway [^`\n]+)`", prose.replace("\\|", "|"))


def placeholder(word: str) -> bool:
    core = word.strip("[]")
    return (
        not core
        or "…" in core
        or core.startswith("<")
        or (core.isupper() and core.replace("_", "").replace("-", "").isalpha())
    )


def problems(text: str) -> list[str]:
    """What is wrong with the command `text`: names or options the CLI does not have."""
    try:
        words = shlex.split(text, comments=True)
    except ValueError as error:
        return [f"cannot be split into words ({error})"]
    root = typer.main.get_command(app)
    return _check(root, words[1:], "headway")


def _check(command: Any, words: list[str], path: str) -> list[str]:
    group = hasattr(command, "get_command")  # the lazy groups are click groups in all but name
    if group and words and not words[0].startswith("-"):
        word = words[0]
        if placeholder(word):
            return []
        found = []
        for name in word.split("|"):
            sub = command.get_command(typer.Context(command), name)
            if sub is None:
                found.append(f"{path} has no command {name!r}")
            else:
                found += _check(sub, words[1:], f"{path} {name}")
        return found
    return _options(command, words, path)


def _options(command: Any, words: list[str], path: str) -> list[str]:
    # (Typer carries its own copy of click, so its classes are told by what they hold.)
    params = {
        name: param
        for param in command.params
        if param.param_type_name == "option"
        for name in [*param.opts, *param.secondary_opts]
    }
    found = []
    for raw in words:
        word = raw.strip("[]")
        if not word.startswith("--") or placeholder(word):
            continue
        for name in word.split("=")[0].split("/"):
            if name not in params and name != "--help":
                found.append(f"{path} has no option {name}")
    return found


def test_the_check_finds_a_wrong_command_option_and_choice() -> None:
    assert problems("headway flags set KEY --service NAME") == []
    assert problems("headway audit verify|export") == []
    assert problems("headway flags nosuch") == ["headway flags has no command 'nosuch'"]
    assert problems("headway metrics --colour red") == ["headway metrics has no option --colour"]
    assert problems("headway rollout pause|nosuch x") == ["headway rollout has no command 'nosuch'"]
    assert problems("headway flags set KEY --client-side/--server-side") == [
        "headway flags set has no option --server-side"
    ]
    assert problems("headway flags refs PATH [--repository NAME] [--json]") == []
    # and it reads the pages' commands: code lines, joined lines and running text
    found = [text for page in PAGES for text in mentions(page.read_text())]
    assert len(found) > 150
    assert "headway rollout pause|abort|rollback new-checkout [--reason …]" in found
    assert any(t.startswith("headway rollout start new-checkout --variant on") for t in found)


@pytest.mark.parametrize("page", [p for p in PAGES if p.name not in GENERATED], ids=str)
def test_every_command_a_page_names_exists(page: Path) -> None:
    wrong = {text: found for text in mentions(page.read_text()) if (found := problems(text))}
    assert not wrong, f"{page.relative_to(ROOT)} names commands the CLI does not have: {wrong}"
