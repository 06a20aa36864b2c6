"""The GitHub repository or GitLab project a repository is hosted as, so that the git import
names a pull or merge request as that host's webhooks do (`github:owner/name#N`,
`gitlab:group/project!N`) and both feed one change."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from headway.model import record_id
from headway.sources.git.history import GitError, remote_url

KINDS = ("github", "gitlab")
# https://github.com/o/n(.git), git@github.com:o/n.git, ssh://git@github.com[:22]/o/n.git
_REMOTE = re.compile(
    r"^(?:[a-z][a-z0-9+.-]*://)?(?:[^@/]+@)?(github\.com|gitlab\.com)(?::\d+)?[:/]"
    r"/*(?P<path>[^?#]+?)(?:\.git)?/*$"
)


@dataclass(frozen=True, slots=True)
class Host:
    kind: str  # github | gitlab: the webhook source that names the requests
    repository: str  # owner/name (GitHub), group/…/project (GitLab)

    def source_id(self, number: int) -> str:
        return f"{self.repository}{'#' if self.kind == 'github' else '!'}{number}"

    def change_id(self, number: int) -> str:
        return record_id(self.kind, self.source_id(number))

    @property
    def prefix(self) -> str:
        """What every request id of this host starts with."""
        return self.change_id(0)[:-1]

    def __str__(self) -> str:
        return f"{self.kind}:{self.repository}"


def parse_host(value: str) -> Host | None:
    """`--host github:owner/name`, `gitlab:group/project`, or `none`."""
    if value.strip().lower() == "none":
        return None
    kind, _, repository = value.strip().partition(":")
    repository = repository.strip("/")
    host = Host(kind.lower(), repository) if kind.lower() in KINDS else None
    if host is None or not _valid(host):
        raise GitError(
            f"--host {value!r} is not a host repository; pass github:OWNER/NAME, "
            "gitlab:GROUP/PROJECT (subgroups allowed) or none"
        )
    return host


def _valid(host: Host) -> bool:
    parts = host.repository.split("/")
    if any(not p or p.strip() != p or ":" in p for p in parts):
        return False
    return len(parts) == 2 if host.kind == "github" else len(parts) >= 2


def host_of_remote(url: str) -> Host | None:
    """The host repository a github.com or gitlab.com remote URL names; None for others."""
    m = _REMOTE.match(url.strip())
    if m is None:
        return None
    host = Host(m[1].split(".")[0], m["path"])
    return host if _valid(host) else None


def resolve_host(path: Path, value: str | None) -> Host | None:
    """`--host` when given, else what the `origin` remote names (github.com, gitlab.com)."""
    if value is not None:
        return parse_host(value)
    url = remote_url(path)
    return host_of_remote(url) if url else None
