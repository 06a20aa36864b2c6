"""Check commit messages: a subject of at most 72 characters, a blank line, then a body.

As a `commit-msg` hook (`git config core.hooksPath .githooks`) it checks the message being
written; with `--since REV` it checks every commit after REV on the current branch, which is
what CI does for commits made since the rule was adopted (`.ci/commit-msg-since`).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

MAX_SUBJECT = 72


def problems(message: str) -> list[str]:
    """What is wrong with one message; comments (`#` lines) are ignored as git ignores them."""
    lines = [line for line in message.splitlines() if not line.startswith("#")]
    while lines and not lines[-1].strip():
        lines.pop()
    if not lines or not lines[0].strip():
        return ["the subject line is empty"]
    found = []
    subject = lines[0]
    if len(subject) > MAX_SUBJECT:
        found.append(
            f"the subject is {len(subject)} characters; keep it to {MAX_SUBJECT} "
            "and move the rest to the body"
        )
    if len(lines) < 3 or lines[1].strip():
        found.append("write a blank line after the subject, then a body saying why")
    elif not any(line.strip() for line in lines[2:]):
        found.append("the body is empty: say why, and what was measured")
    return found


def _git(*args: str) -> str:
    return subprocess.run(["git", *args], check=True, capture_output=True, text=True).stdout


def check_since(base: str) -> int:
    shas = _git("rev-list", "--no-merges", f"{base}..HEAD").split()
    bad = 0
    for sha in shas:
        for problem in problems(_git("log", "-1", "--format=%B", sha)):
            subject = _git("log", "-1", "--format=%s", sha).strip()
            print(f"{sha[:12]} {subject[:60]!r}: {problem}")
            bad += 1
    return 1 if bad else 0


def main(argv: list[str]) -> int:
    if len(argv) == 2 and argv[0] == "--since":
        return check_since(argv[1])
    if len(argv) != 1:
        print("usage: check_commit_msg.py MESSAGE_FILE | --since REV", file=sys.stderr)
        return 2
    found = problems(Path(argv[0]).read_text(encoding="utf-8"))
    for problem in found:
        print(f"commit message: {problem}", file=sys.stderr)
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
