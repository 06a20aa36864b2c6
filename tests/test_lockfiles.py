"""The lockfiles agree with pyproject.toml, so `pip install -r requirements.lock -e .` installs
without a resolver warning: every dependency is pinned, at a version its specifier accepts."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).parents[1]
PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]


def _pins(lockfile: str) -> dict[str, str]:
    pins = {}
    for line in (ROOT / lockfile).read_text().splitlines():
        if line and not line.startswith((" ", "#")):
            name, _, version = line.partition("==")
            pins[canonicalize_name(name.split("[")[0])] = version.strip()
    return pins


@pytest.mark.parametrize(
    ("lockfile", "extras"),
    [("requirements.lock", []), ("requirements-dev.lock", ["dev"])],
)
def test_every_dependency_is_pinned_where_its_specifier_allows(
    lockfile: str, extras: list[str]
) -> None:
    pins = _pins(lockfile)
    wanted = list(PROJECT["dependencies"])
    for extra in extras:
        wanted += PROJECT["optional-dependencies"][extra]
    for text in wanted:  # grows while read: an extra may name another (`headway[spark]`)
        requirement = Requirement(text)
        if requirement.name == PROJECT["name"]:
            for extra in sorted(requirement.extras):
                wanted += PROJECT["optional-dependencies"][extra]
            continue
        if requirement.marker and not requirement.marker.evaluate():
            continue
        name = canonicalize_name(requirement.name)
        assert name in pins, f"{requirement.name} is in pyproject.toml but not in {lockfile}"
        assert requirement.specifier.contains(pins[name], prereleases=True), (
            f"{lockfile} pins {name}=={pins[name]}, outside pyproject's {requirement.specifier}"
        )
