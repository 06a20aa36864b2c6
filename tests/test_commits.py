"""Commit messages: a short subject, a blank line, a body; checked by the hook and over history."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[1]
_spec = importlib.util.spec_from_file_location(
    "check_commit_msg", ROOT / "scripts/check_commit_msg.py"
)
assert _spec is not None
assert _spec.loader is not None
check = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(check)


def test_a_good_message_passes() -> None:
    message = "Count rework only for releases after the change\n\nWhy, and what was measured.\n"
    assert check.problems(message) == []


@pytest.mark.parametrize(
    ("message", "expected"),
    [
        ("", "the subject line is empty"),
        ("Fix it\n", "write a blank line after the subject, then a body saying why"),
        ("Fix it\nbody glued to the subject\n", "write a blank line after the subject"),
        ("Fix it\n\n\n# a comment git drops\n", "write a blank line after the subject"),
        ("x" * 73 + "\n\nbody\n", "the subject is 73 characters; keep it to 72"),
    ],
)
def test_a_bad_message_is_refused_with_the_fix(message: str, expected: str) -> None:
    assert any(p.startswith(expected) for p in check.problems(message)), check.problems(message)


def test_exactly_72_characters_is_allowed() -> None:
    assert check.problems("x" * 72 + "\n\nbody\n") == []


def test_the_hook_refuses_a_bad_message(tmp_path: Path) -> None:
    message = tmp_path / "COMMIT_EDITMSG"
    message.write_text("a subject with no body\n")
    done = subprocess.run(
        ["sh", str(ROOT / ".githooks/commit-msg"), str(message)],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert done.returncode == 1
    assert "blank line after the subject" in done.stderr


def test_every_commit_since_the_rule_was_adopted_follows_it() -> None:
    base = (ROOT / ".ci/commit-msg-since").read_text().strip()
    known = subprocess.run(["git", "cat-file", "-e", f"{base}^{{commit}}"], cwd=ROOT)
    assert known.returncode == 0, f"CI needs the whole history: {base} is not in this clone"
    done = subprocess.run(
        [sys.executable, str(ROOT / "scripts/check_commit_msg.py"), "--since", base],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stdout + done.stderr
