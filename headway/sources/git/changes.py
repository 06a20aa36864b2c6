"""Recognising changes: the main line, the commits each main-line commit brought in, and
pull requests from merge commits (GitHub, GitLab, Bitbucket) and squash merges."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from headway.sources.git.history import Commit

PR_MERGE = re.compile(r"^Merge pull request #(\d+) from (\S+)")
_MR_MERGE = re.compile(r"See merge request (?:\S+)?!(\d+)")
_BITBUCKET = re.compile(r"\(pull request #(\d+)\)")
SQUASH = re.compile(r"^(.*\S)\s+\(#(\d+)\)$")


def main_line(
    commits: dict[str, Commit], tips: Sequence[str | None]
) -> tuple[list[str], set[str], list[str | None]]:
    """The first-parent chains from `tips` (oldest first within each chain, so earlier merges
    own shared commits), and for each tip the commit outside `commits` its chain ran into."""
    mainline: list[str] = []
    on_main: set[str] = set()
    stops: list[str | None] = []
    for tip in tips:
        chain = []
        sha = tip
        while sha and sha not in on_main and sha in commits:
            on_main.add(sha)
            chain.append(sha)
            parents = commits[sha].parents
            sha = parents[0] if parents else None
        stops.append(sha if sha and sha not in on_main else None)
        mainline.extend(reversed(chain))
    return mainline, on_main, stops


def owners(
    commits: dict[str, Commit], mainline: list[str], on_main: set[str]
) -> tuple[dict[str, str], dict[str, list[str]]]:
    """Each main-line commit is a change; a merge also owns the branch commits it brought in
    (`members`, which holds merges only)."""
    owner: dict[str, str] = {}
    members: dict[str, list[str]] = {}
    for sha in mainline:
        owner[sha] = sha
        parents = commits[sha].parents
        if len(parents) < 2:
            continue
        brought: list[str] = []
        stack = list(parents[1:])
        while stack:
            c = stack.pop()
            if c in on_main or c in owner or c not in commits:
                continue
            owner[c] = sha
            brought.append(c)
            stack.extend(commits[c].parents)
        members[sha] = brought
    return owner, members


@dataclass(slots=True)
class ChangeInfo:
    """A main-line commit as a change: its pull request, who and when it started, and the
    release that first shipped it (None: no release contains it yet). `request` is set on the
    first change carrying its pull request number (a backport carrying it again is a change of
    its own): that change is the pull request the host knows."""

    number: int | None
    title: str
    author: str
    first: int
    deployment: str | None
    request: int | None = None


def main_line_changes(
    commits: dict[str, Commit],
    mainline: list[str],
    members: dict[str, list[str]],
    shipped: dict[str, str],
) -> tuple[dict[str, ChangeInfo], dict[int, str]]:
    """Each main-line commit that is a change (a merge bringing nothing new is not), and the
    first main-line commit carrying each pull request number."""
    changes: dict[str, ChangeInfo] = {}
    by_number: dict[int, str] = {}
    for sha in mainline:
        commit = commits[sha]
        brought = members.get(sha)
        number, title, author, first = _describe(
            commit, [commits[c] for c in brought] if brought else []
        )
        if len(commit.parents) > 1 and number is None and not brought:
            continue  # a merge that brought nothing new (syncing branches) is not a change
        if number is not None:
            by_number.setdefault(number, sha)
        changes[sha] = ChangeInfo(number, title, author, first, shipped.get(sha))
    return changes, by_number


def own_change(commit: Commit, deployment: str | None) -> ChangeInfo:
    """A main-line commit as the change it is on its own, before a rebase merge folded it in."""
    return ChangeInfo(*_describe(commit, []), deployment)


def _describe(commit: Commit, brought: list[Commit]) -> tuple[int | None, str, str, int]:
    """(PR number, title, author, first commit time) of a main-line commit."""
    subject = commit.subject
    first, author = commit.authored, commit.author
    if brought:
        earliest = min(brought, key=lambda c: c.authored)
        first, author = min(first, earliest.authored), earliest.author
    if "#" not in subject and len(commit.parents) < 2:
        return None, subject, author, first  # short cut: outside merges every pattern needs a #
    if m := PR_MERGE.match(subject):
        return int(m[1]), _body_title(commit) or subject, author, first
    if len(commit.parents) > 1 and (m := _MR_MERGE.search(commit.message)):
        return int(m[1]), _body_title(commit) or subject, author, first
    if m := _BITBUCKET.search(subject):
        return int(m[1]), subject, author, first
    if len(commit.parents) == 1 and (m := SQUASH.match(subject)):
        return int(m[2]), m[1], commit.author, first
    return None, subject, author, first


def _body_title(commit: Commit) -> str:
    """The first line of the message body (a merge's pull request title)."""
    body = commit.message.split("\n", 1)[1].strip() if "\n" in commit.message else ""
    return body.split("\n", 1)[0].strip()
