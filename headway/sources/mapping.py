"""What webhook adapters share: the repository → service/team map, and what a parse returns.

Adapters (`github.py`, `gitlab.py`, …) are pure: payload in, `Parsed` out. They know their
source's payloads and nothing about HTTP or the store; the names they report (a repository, a
PagerDuty service, a Jira project) go through `Mapping.service()` so teams decide, in one
setting, which Headway service each one is.
"""

from __future__ import annotations

import re
from collections.abc import Mapping as AnyMapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, ClassVar, Literal, overload

from headway.config import Settings
from headway.model import Change, Context, Service
from headway.ordering import Order

_SPACED_OFFSET = re.compile(r" ([+-]\d{2}:?\d{2})$")  # GitLab: 2021-04-28 21:50:00 +0200


class PayloadError(ValueError):
    """A payload that is valid JSON but not a usable event of its kind; names the field."""


@dataclass(frozen=True, slots=True)
class SeenCommit:
    """A commit a push listed, with its timestamp (bookkeeping table `seen_commits`)."""

    table: ClassVar[str] = "seen_commits"
    source: str
    repository: str
    push_head: str
    sha: str
    committed_at: datetime

    @property
    def id(self) -> str:
        return f"{self.source}:{self.repository}@{self.push_head}:{self.sha}"


@dataclass(frozen=True, slots=True)
class Derivation:
    """That raw event `raw_event_id` produced record `record_id` (table `derived_records`)."""

    table: ClassVar[str] = "derived_records"
    raw_event_id: str
    record_table: str
    record_id: str

    @property
    def id(self) -> str:
        return f"{self.raw_event_id} {self.record_table} {self.record_id}"


@dataclass(frozen=True, slots=True)
class Parsed:
    """What one delivery means: canonical records, commits seen, or why it was ignored."""

    records: tuple[Any, ...] = ()
    commits: tuple[SeenCommit, ...] = ()
    ignored: str | None = None  # set when the event carries nothing Headway uses
    # the source's own id and time of the event, for records a newer event replaces
    order: Order | None = None

    @staticmethod
    def ignore(reason: str) -> Parsed:
        return Parsed(ignored=reason)


@dataclass(frozen=True)
class Mapping:
    """The configurable part of every adapter, built from `Settings`."""

    services: AnyMapping[str, AnyMapping[str, str]] = field(default_factory=dict)
    production_environments: tuple[str, ...] = ("production",)
    incident_labels: tuple[str, ...] = ("incident",)
    defect_labels: tuple[str, ...] = ("bug", "defect", "escaped-defect")
    jira_incident_types: tuple[str, ...] = ("Incident",)
    default_service: str | None = None  # for CDEvents that name none (?service= on the hook)

    @classmethod
    def from_settings(cls, settings: Settings) -> Mapping:
        return cls(
            services=settings.service_map,
            production_environments=tuple(settings.production_environments),
            incident_labels=tuple(settings.incident_labels),
            defect_labels=tuple(settings.defect_labels),
            jira_incident_types=tuple(settings.jira_incident_types),
        )

    def entry(self, name: str) -> AnyMapping[str, str]:
        return self.services.get(name) or self.services.get(name.lower()) or {}

    def service(self, name: str) -> str:
        """The service a repository (or external service, project) belongs to.

        Configured names win; otherwise a repository is its own service, named after its last
        path segment (`acme/checkout` → `checkout`).
        """
        return self.entry(name).get("service") or name.rstrip("/").rsplit("/", 1)[-1]

    def service_record(self, name: str) -> Service:
        """The `services` row for a configured name (team, context, repository)."""
        entry = self.entry(name)
        return Service(
            name=self.service(name),
            team=entry.get("team"),
            context=entry.get("context") or Context.CUSTOMER_FACING.value,
            repository=entry.get("repository") or (name if "/" in name else None),
        )

    def is_production(self, environment: str | None) -> bool:
        return environment is not None and environment.lower() in {
            e.lower() for e in self.production_environments
        }

    def labelled(self, labels: tuple[str, ...], wanted: tuple[str, ...]) -> bool:
        have = {label.lower() for label in labels}
        return any(w.lower() in have for w in wanted)


# -- reading payloads: every access names the field it needed --------------------------------


def get(payload: Any, path: str) -> Any:
    """The value at a dotted path; PayloadError naming the path when it is missing."""
    value = payload
    walked = []
    for part in path.split("."):
        walked.append(part)
        if not isinstance(value, dict) or part not in value:
            raise PayloadError(f"missing field `{'.'.join(walked)}`")
        value = value[part]
    return value


def opt(payload: Any, path: str) -> Any:
    """The value at a dotted path, or None when any part is missing."""
    value = payload
    for part in path.split("."):
        if not isinstance(value, dict):
            return None
        value = value.get(part)
    return value


def text(payload: Any, path: str) -> str:
    value = get(payload, path)
    if isinstance(value, bool) or not isinstance(value, str | int) or value == "":
        raise PayloadError(f"field `{path}` must be a non-empty string, got {value!r}")
    return str(value)


@overload
def when(payload: Any, path: str, *, required: Literal[True] = True) -> datetime: ...


@overload
def when(payload: Any, path: str, *, required: bool) -> datetime | None: ...


def when(payload: Any, path: str, *, required: bool = True) -> datetime | None:
    """A timestamp field: ISO 8601 text, or epoch seconds/milliseconds as a number."""
    value = get(payload, path) if required else opt(payload, path)
    if value is None or value == "":
        if required:
            raise PayloadError(f"field `{path}` must be a timestamp, got nothing")
        return None
    return to_datetime(value, path)


def to_datetime(value: Any, path: str) -> datetime:
    if isinstance(value, bool):
        raise PayloadError(f"field `{path}` must be a timestamp, got {value!r}")
    if isinstance(value, int | float):
        # Sources mix units (Opsgenie sends ms and ns in one payload): judge by magnitude.
        seconds = float(value)
        while seconds > 1e11:
            seconds /= 1000.0
        try:
            return datetime.fromtimestamp(seconds, UTC)
        except (OverflowError, OSError, ValueError):  # -1e300, or beyond the platform's time_t
            raise PayloadError(
                f"field `{path}` must be a timestamp, got {value!r}, outside the calendar"
            ) from None
    if isinstance(value, str):
        candidate = value.strip()
        if candidate.endswith(" UTC"):  # GitLab: 2016-08-12 15:23:28 UTC
            candidate = candidate[:-4]
        candidate = _SPACED_OFFSET.sub(
            r"\1", candidate.replace("Z", "+00:00").replace("z", "+00:00")
        )
        # Jira writes offsets without a colon (+0000).
        if len(candidate) > 5 and candidate[-5] in "+-" and candidate[-4:].isdigit():
            candidate = f"{candidate[:-2]}:{candidate[-2:]}"
        try:
            parsed = datetime.fromisoformat(candidate)
        except ValueError:
            raise PayloadError(
                f"field `{path}` must be an ISO 8601 timestamp, got {value!r}"
            ) from None
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=UTC)  # sources that omit the zone write UTC
        return parsed.astimezone(UTC)
    raise PayloadError(f"field `{path}` must be a timestamp, got {value!r}")


# A commit that names the pull or merge request it came from: GitHub's merge commit, GitHub's
# squash commit ("Title (#12)") and GitLab's merge commit ("See merge request group/app!3").
_FROM_REQUEST = re.compile(
    r"\AMerge pull request #\d+|\A[^\n]*\(#\d+\)[ \t]*(?:\n|\Z)|^See merge request \S+!\d+",
    re.MULTILINE,
)
GIT = "git"  # the git importer's source: a direct commit has the id it gives that commit


def direct_changes(
    repository: str,
    service: str,
    pushed: dict[str, Any],
    default_branch: Any,
    reached_at: datetime,
) -> tuple[Change, ...]:
    """Commits a push put straight on the default branch, each a change of its own.

    The commits a push lists run oldest first; those up to the last one that names a pull or
    merge request came with that request (which is the change), those after it were pushed
    directly. A direct commit gets the id `headway import git --repository <repository>`
    gives the same commit (`git:<repository>/<sha>`), so importing the repository as well
    does not count it twice. `reached_at` is when it reached the main line (the push).
    """
    if not isinstance(default_branch, str) or pushed.get("ref") != f"refs/heads/{default_branch}":
        return ()
    commits = [c for c in pushed.get("commits") or [] if isinstance(c, dict)]
    from_requests = [i for i, c in enumerate(commits) if _FROM_REQUEST.search(_message(c))]
    direct = commits[from_requests[-1] + 1 :] if from_requests else commits
    changes = []
    for commit in direct:
        sha = text(commit, "id")
        title = _message(commit).split("\n", 1)[0].strip()
        committed = when(commit, "timestamp")
        changes.append(
            Change(
                source=GIT,
                source_id=f"{repository}/{sha}",
                service=service,
                repository=repository,
                author=opt(commit, "author.username") or opt(commit, "author.name"),
                title=title[:500] or None,
                first_commit_at=committed,
                merged_at=max(committed, reached_at),
                merge_sha=sha,
                is_revert=title.startswith('Revert "'),
            )
        )
    return tuple(changes)


def _message(commit: dict[str, Any]) -> str:
    message = commit.get("message")
    return message if isinstance(message, str) else ""


def labels_of(items: Any) -> tuple[str, ...]:
    """Label names from a list of strings or of objects with a `name`/`title`."""
    if not isinstance(items, list):
        return ()
    names = []
    for item in items:
        if isinstance(item, str):
            names.append(item)
        elif isinstance(item, dict):
            name = item.get("name") or item.get("title")
            if isinstance(name, str):
                names.append(name)
    return tuple(names)


__all__ = [
    "GIT",
    "Derivation",
    "Mapping",
    "Parsed",
    "PayloadError",
    "SeenCommit",
    "direct_changes",
    "get",
    "labels_of",
    "opt",
    "text",
    "to_datetime",
    "when",
]
