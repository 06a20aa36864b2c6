"""Where a record came from, as a link: the pull or merge request of a change, the commit of
a direct change or of a deployment, on the host the store names for its repository.

A link is built only from parts checked here (a repository path of plain segments, a whole
number, a hex sha, an https base), so a value a source sent can never make it another scheme
(`javascript:`) or another host; anything else has no link.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

__all__ = [
    "GITHUB",
    "GITLAB",
    "PUBLIC",
    "Bases",
    "change_url",
    "commit_url",
    "host_of",
    "page_url",
]

GITHUB, GITLAB = "github", "gitlab"

# A path segment as GitHub and GitLab allow them: letters, digits, `.`, `_`, `-`; never
# `.` or `..` alone, which would climb out of the repository.
_SEGMENT = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9._-]*$")
_SHA = re.compile(r"^[0-9a-f]{7,64}$")
# A page a source sent (an incident's): https, a host name, a plain path; no query, fragment,
# credentials, quote or space that could carry anything but an address.
_PAGE = re.compile(r"^https://[A-Za-z0-9.-]+(?::[0-9]{1,5})?(?:/[A-Za-z0-9._~%-]+)*/?$")
_BASE = re.compile(r"^https://[A-Za-z0-9.-]+(?::[0-9]{1,5})?(?:/[A-Za-z0-9._~-]+)*$")


@dataclass(frozen=True, slots=True)
class Bases:
    """The web address of each host: github.com and gitlab.com unless configured."""

    github: str = "https://github.com"
    gitlab: str = "https://gitlab.com"

    def of(self, host: str) -> str | None:
        base = self.github if host == GITHUB else self.gitlab if host == GITLAB else None
        return base.rstrip("/") if base and _BASE.match(base.rstrip("/")) else None


PUBLIC = Bases()


def host_of(source: str | None, known: str | None) -> str | None:
    """The host of a record: its own source when a host sent it, else the host the store has
    seen its repository on (`known`), else none."""
    if source in (GITHUB, GITLAB):
        return source
    return known if known in (GITHUB, GITLAB) else None


def _repository(host: str, repository: str | None) -> str | None:
    if not repository:
        return None
    parts = repository.split("/")
    if not all(_SEGMENT.match(p) for p in parts):
        return None
    # GitHub: owner/name; GitLab: group/…/project (subgroups).
    fits = len(parts) == 2 if host == GITHUB else len(parts) >= 2
    return repository if fits else None


def _sha(sha: str | None) -> str | None:
    value = (sha or "").strip().lower()
    return value if _SHA.match(value) else None


def commit_url(
    host: str | None, repository: str | None, sha: str | None, bases: Bases = PUBLIC
) -> str | None:
    """The commit `sha` of `repository` on `host`; None when a part is missing or malformed."""
    base = bases.of(host or "")
    repo = _repository(host or "", repository)
    commit = _sha(sha)
    if base is None or repo is None or commit is None:
        return None
    return (
        f"{base}/{repo}/-/commit/{commit}" if host == GITLAB else f"{base}/{repo}/commit/{commit}"
    )


def change_url(
    host: str | None,
    repository: str | None,
    number: int | None,
    sha: str | None,
    bases: Bases = PUBLIC,
) -> str | None:
    """A change's pull (GitHub) or merge (GitLab) request, else its commit when it has no
    number (a direct commit); None when neither can be built from checked parts."""
    if number is None:
        return commit_url(host, repository, sha, bases)
    base = bases.of(host or "")
    repo = _repository(host or "", repository)
    if base is None or repo is None or isinstance(number, bool) or not 0 < int(number) < 2**63:
        return None
    if host == GITLAB:
        return f"{base}/{repo}/-/merge_requests/{int(number)}"
    return f"{base}/{repo}/pull/{int(number)}"


def page_url(value: str | None) -> str | None:
    """A page address a source sent, when it is a plain https one; None otherwise."""
    return value if value and _PAGE.match(value) else None
