"""Semantic versions (semver.org 2.0 precedence) as plain sortable tuples.

A leading ``v`` and missing minor or patch numbers are accepted (``v2`` is ``2.0.0``) because
that is how app versions arrive in contexts; build metadata is ignored, as semver says.
"""

from __future__ import annotations

import re

__all__ = ["SemverKey", "parse_semver"]

_SEMVER_RE = re.compile(
    r"^v?(0|[1-9]\d*)(?:\.(0|[1-9]\d*))?(?:\.(0|[1-9]\d*))?"
    r"(?:-([0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*))?(?:\+[0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*)?$"
)

# (major, minor, patch, prerelease) where prerelease is (1,) for a release, which sorts above
# (0, identifiers...) for any pre-release of the same version.
SemverKey = tuple[int, int, int, tuple[object, ...]]


def parse_semver(text: object) -> SemverKey | None:
    """Sortable key for a version string, or None if it is not a version."""
    if not isinstance(text, str):
        return None
    m = _SEMVER_RE.match(text.strip())
    if m is None:
        return None
    major, minor, patch, pre = m.groups()
    if pre is None:
        pre_key: tuple[object, ...] = (1,)
    else:
        # Numeric identifiers sort numerically and below alphanumeric ones (semver 11.4.3).
        pre_key = (0, *((0, int(p)) if p.isdigit() else (1, p) for p in pre.split(".")))
    return (int(major), int(minor or 0), int(patch or 0), pre_key)
