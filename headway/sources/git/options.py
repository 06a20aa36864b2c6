"""What an import is asked for: the service, team, environment and which tags deploy."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from headway.sources.git.history import Refs, Tag
from headway.sources.git.host import Host
from headway.sources.git.releases import TagRule, select_tags


@dataclass
class Options:
    service: str
    repository: str
    team: str | None = None
    environment: str = "production"
    tags: TagRule = field(default_factory=TagRule)
    deployments: bool = True
    host: Host | None = None  # names pull requests as its webhooks do; None: by merge commit


def repository_name(path: Path) -> str:
    """A repository's name: its directory's, without `.git`."""
    name = path.resolve().name
    return name[:-4] if name.endswith(".git") and len(name) > 4 else name


def release_tags(refs: Refs, opts: Options) -> list[Tag]:
    return select_tags(refs.tags, opts.tags) if opts.deployments else []
