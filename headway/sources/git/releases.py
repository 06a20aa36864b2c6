"""Which tags are releases: version-like names, pre-releases, `--deploy-tags` patterns."""

from __future__ import annotations

import fnmatch
import re
from dataclasses import dataclass

from headway.sources.git.history import GitError, Tag

_VERSION = re.compile(
    r"^(?:[A-Za-z][\w.+-]*?[-_/@])?v?(?P<core>\d+(?:\.\d+)+)"
    r"(?P<suffix>(?:[-._+]?[A-Za-z]+[-._]?\d*)*)$"
)
_PRE = re.compile(
    r"(?:^|[-._+\d])(a|b|c|rc|alpha|beta|pre|preview|dev|snapshot|nightly|canary)(?:[-._]?\d*)$|"
    r"(?:^|[-._+\d])(a|b|c|rc|alpha|beta|pre|preview|dev|snapshot|nightly|canary)[-._]?\d*[-._+]",
    re.IGNORECASE,
)
_POST = re.compile(r"^[-._+]?(post|final|release|ga|lts)[-._]?\d*$", re.IGNORECASE)


def release_kind(name: str) -> str | None:
    """'release', 'prerelease', or None when the tag does not look like a version at all."""
    m = _VERSION.match(name)
    if not m:
        return None
    suffix = m["suffix"]
    if not suffix or _POST.match(suffix):
        return "release"
    if _PRE.search(suffix):
        return "prerelease"
    return None


@dataclass(frozen=True, slots=True)
class TagRule:
    pattern: str | None = None  # a glob (v*), or a regular expression prefixed with re:
    prereleases: bool = False

    def describe(self) -> str:
        what = self.pattern or "release-like version tags (v1.2.3, 1.2, release-1.2)"
        return what + ("" if self.prereleases else ", pre-releases excluded")

    def matches(self, name: str) -> tuple[bool, bool]:
        """(matches the pattern, and is a pre-release that is being left out)."""
        kind = release_kind(name)
        if self.pattern is None:
            matched = kind is not None
        elif self.pattern.startswith("re:"):
            matched = re.search(self.pattern[3:], name) is not None
        else:
            matched = fnmatch.fnmatchcase(name, self.pattern)
        if matched and kind == "prerelease" and not self.prereleases:
            return True, True
        return matched, False


def select_tags(tags: list[Tag], rule: TagRule) -> list[Tag]:
    """Release tags in time order; one deployment per commit (the earliest tag on it)."""
    if rule.pattern and rule.pattern.startswith("re:"):
        try:
            re.compile(rule.pattern[3:])
        except re.error as error:
            raise GitError(
                f"--deploy-tags {rule.pattern!r} is not a valid regular expression: {error}"
            ) from None
    chosen: dict[str, Tag] = {}
    skipped_pre = []
    for tag in sorted(tags, key=lambda t: (t.time, t.name)):
        matched, pre = rule.matches(tag.name)
        if pre:
            skipped_pre.append(tag.name)
        elif matched and tag.sha not in chosen:
            chosen[tag.sha] = tag
    if not chosen:
        if not tags:
            raise GitError(
                "the repository has no tags, so no deployments can be found; tag your "
                "releases (git tag -a v1.0.0) or import changes only with --no-deployments"
            )
        sample = ", ".join(t.name for t in sorted(tags, key=lambda t: -t.time)[:8])
        hint = (
            (
                f"; {len(skipped_pre)} pre-release tag(s) matched but are left out, add --prereleases "
                "to count them"
            )
            if skipped_pre
            else ""
        )
        raise GitError(
            f"no tag matches {rule.describe()}{hint}; the repository's newest tags are: "
            f"{sample}; pass --deploy-tags with a glob such as 'v*' or 're:^release-'"
        )
    return sorted(chosen.values(), key=lambda t: (t.time, t.name))
