"""Two real histories (flask, httpx), derived twice: with plain git, and by `headway import git`.

The plain-git side states the rule in the fewest commands a reader can rerun by hand:

* releases: the tags named like a version (`1.2`, `v1.2.3`), at the tag's time
  (`%(creatordate)`: the tagger date of an annotated tag, the commit date of a lightweight
  one), one per commit (the earliest);
* the release of a commit: the earliest release whose tag contains it (`git tag --contains`);
* reverts: every commit reachable from HEAD or a release whose message says `This reverts
  commit <sha>` of a commit in the repository, unless that commit is itself such a revert
  (reverting a revert re-lands the change);
* a release failed when it shipped a reverted commit but not the revert, the revert being
  merged at most 30 days (the `dora` definition's `revert_window_days`) after the release;
  the first release shipping the revert recovers it and is rework.

The numbers, and why each differs from what Headway said before, are in docs/git-import.md.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import pytest
from typer.testing import CliRunner

from headway.cli import app
from tests.conftest import REPOS

pytestmark = pytest.mark.slow

runner = CliRunner()
_VERSION = re.compile(r"^v?\d+(\.\d+)+$")
_REVERTS = re.compile(r"This reverts commit ([0-9a-f]{7,40})")
_WINDOW_S = 30 * 86400
# A checkout outside the usual layout names the bundles' folder explicitly.
BUNDLES = Path(os.environ.get("HEADWAY_TEST_REPOS") or REPOS)


@dataclass
class Releases:
    """What the plain-git derivation finds: every set the test compares."""

    times: dict[str, str] = field(default_factory=dict)  # release -> ISO time
    failed: dict[str, str] = field(default_factory=dict)  # failed release -> recovered at
    recovers: dict[str, str] = field(default_factory=dict)  # recovering release -> failed one
    rework: set[str] = field(default_factory=set)


def git(repo: Path, *args: str) -> str:
    done = subprocess.run(
        ["git", "-C", str(repo), *args], capture_output=True, text=True, check=False
    )
    return done.stdout if done.returncode == 0 else ""


def iso(ts: int) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def derive(repo: Path) -> Releases:
    tags: dict[str, tuple[int, str]] = {}  # release -> (time, commit)
    refs = "%(refname:strip=2) %(creatordate:unix) %(objectname) %(*objectname)"
    for line in git(repo, "for-each-ref", "refs/tags", f"--format={refs}").splitlines():
        name, time, sha, *peeled = line.split()
        if _VERSION.match(name):
            tags[name] = (int(time), peeled[0] if peeled else sha)
    earliest: dict[str, str] = {}
    for name in sorted(tags, key=lambda n: (tags[n][0], n)):
        earliest.setdefault(tags[name][1], name)
    releases = set(earliest.values())
    out = Releases(times={n: iso(tags[n][0]) for n in releases})

    def release_of(sha: str) -> str | None:
        containing = [n for n in git(repo, "tag", "--contains", sha).split() if n in releases]
        return min(containing, key=lambda n: (tags[n][0], n)) if containing else None

    def reverted(message: str) -> str | None:
        for short in _REVERTS.findall(message):
            if full := git(repo, "rev-parse", "--verify", "--quiet", f"{short}^{{commit}}"):
                return full.strip()
        return None

    log = git(
        repo,
        "log",
        "--format=%H%x00%ct%x00%B%x1e",
        "--grep=This reverts commit",
        "HEAD",
        *(tags[n][1] for n in releases),
    )
    found = []
    for record in log.split("\x1e"):
        if record.strip():
            sha, committed, message = record.strip().split("\x00", 2)
            if target := reverted(message):
                found.append((int(committed), sha, target))
    for committed, sha, target in sorted(found):
        if reverted(git(repo, "log", "-1", "--format=%B", target)):
            continue  # a reland
        shipped, fix = release_of(target), release_of(sha)
        if shipped is None or (fix is not None and tags[fix][0] <= tags[shipped][0]):
            continue  # never released, or released together with its revert
        if committed - tags[shipped][0] > _WINDOW_S:
            continue
        out.failed.setdefault(shipped, out.times[fix] if fix else "")
        if fix is not None:
            out.recovers.setdefault(fix, shipped)
            out.rework.add(fix)
    return out


def headway(repo: Path, service: str) -> tuple[str, Releases]:
    def cli(*args: str) -> str:
        result = runner.invoke(app, list(args))
        assert result.exit_code == 0, result.output
        return result.output

    summary = cli("import", "git", str(repo), "--service", service, "--host", "none")
    listed = json.loads(
        cli("list", "deployments", "--service", service, "--since", "2000-01-01", "-f", "json")
    )
    out = Releases()
    for d in listed:
        version, at = d["version"], d["finished_at"]
        out.times[version] = at
        if d["failed"]:
            out.failed[version] = d["recovered_at"] or ""
        if d["recovers"]:
            out.recovers[version] = d["recovers"].rsplit("/", 1)[-1]
        if d["rework"]:
            out.rework.add(version)
    return " ".join(summary.split()), out


@pytest.fixture
def clone(request: pytest.FixtureRequest, tmp_path: Path) -> Path:
    bundle = BUNDLES / f"{request.param}.bundle"
    if not bundle.is_file():
        message = f"{bundle} is missing: the real-history tests read it; set HEADWAY_TEST_REPOS to its folder"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    path = tmp_path / request.param
    subprocess.run(["git", "clone", "-q", str(bundle), str(path)], check=True)
    return path


# Worked out with the commands above (docs/git-import.md has the reverts behind them):
# flask: 60 releases; all 9 "This reverts commit" commits ship in the release of the commit
# they revert (one of them re-lands a revert), so nothing failed and nothing is rework.
# httpx: 84 releases; 3 reverts name a commit in the history; 0.7.5 and 0.13.0 shipped theirs
# with the change; 0.23.2 (2023-01-02 11:46:22) shipped #2523, reverted by #2539 in 0.23.3
# (2023-01-04 09:39:43).
EXPECTED = {
    "flask": (60, {}, set()),
    "httpx": (84, {"0.23.2": "2023-01-04T09:39:43Z"}, {"0.23.3"}),
}


@pytest.mark.parametrize("clone", sorted(EXPECTED), indirect=True)
def test_headway_finds_the_releases_failures_recoveries_and_rework_git_shows(
    clone: Path,
) -> None:
    # Given a real history, derived with plain git
    derived = derive(clone)
    releases, failed, rework = EXPECTED[clone.name]
    assert (len(derived.times), derived.failed, derived.rework) == (releases, failed, rework)

    # When Headway imports it
    summary, imported = headway(clone, clone.name)

    # Then it finds the same releases at the same times, the same failed releases recovered
    # at the same times by the same releases, and the same rework
    assert imported.times == derived.times
    assert imported.failed == derived.failed
    assert imported.recovers == derived.recovers
    assert imported.rework == derived.rework
    assert f"{releases} deployments ({len(failed)} failed" in summary
