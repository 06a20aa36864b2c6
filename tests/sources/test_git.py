"""`headway import git`: changes, release deployments, failures and recoveries from history.

The `shop` repository below is small enough to reason about by hand:

    main:  c1 ─ [PR #1: a1 a2] ─ s1 "(#2)" ─ d1 revert s1 ─ [MR !7: b1] ─ e1 ─ e2 revert e1 ─ u1
    tags:  v1.0.0@c1 (Jan 2)    v1.1.0@s1 (lightweight, Jan 5 10:00)   v1.2.0rc1@d1 (pre-release)
           v1.2.0@e2 (Jan 8)
    release-1.1 (from s1): r1 revert s1 ─ tag v1.1.1 (Jan 6 13:00)
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import pytest
from typer.testing import CliRunner

from headway.cli import app
from headway.config import Settings, get_settings
from headway.definitions import PRESETS
from headway.ingest.git import import_repository
from headway.metrics import records
from headway.metrics.dora import Period, Scope
from headway.sources.git import (
    Diffs,
    Options,
    main_line_tips,
    main_line_walks,
    read_refs,
    read_sizes,
    release_tags,
)
from headway.store import Store, open_store
from tests.conftest import assert_every_verdict_has_evidence
from tests.sources.conftest import RepoBuilder

runner = CliRunner()


@dataclass
class Shop:
    repo: RepoBuilder
    sha: dict[str, str]


@pytest.fixture
def shop(repo_builder: RepoBuilder) -> Shop:
    r, sha = repo_builder, {}
    sha["c1"] = r.commit("Initial commit", "2024-01-01T10:00:00+00:00", lines=3)
    r.tag("v1.0.0", "2024-01-02T00:00:00+00:00")
    r.git("checkout", "-q", "-b", "feature-x")
    sha["a1"] = r.commit(
        "Start feature X", "2024-01-03T09:00:00+02:00", author="Grace Hopper", lines=4
    )
    sha["a2"] = r.commit(
        "Finish feature X", "2024-01-03T12:00:00+00:00", author="Grace Hopper", lines=2
    )
    r.git("checkout", "-q", "main")
    sha["m1"] = r.merge(
        "feature-x",
        "Merge pull request #1 from grace/feature-x\n\nAdd feature X",
        "2024-01-04T10:00:00-05:00",
    )
    sha["s1"] = r.commit("Fix parser (#2)", "2024-01-05T10:00:00+00:00", lines=5)
    r.tag("v1.1.0")  # lightweight: deployed at s1's commit time
    r.git("checkout", "-q", "-b", "release-1.1")
    r.git("revert", "--no-edit", sha["s1"], date="2024-01-06T12:00:00+00:00")
    sha["r1"] = r.head()
    r.tag("v1.1.1", "2024-01-06T13:00:00+00:00")
    r.git("checkout", "-q", "main")
    r.git("revert", "--no-edit", sha["s1"], date="2024-01-06T10:00:00+00:00")
    sha["d1"] = r.head()
    r.tag("v1.2.0rc1", "2024-01-06T11:00:00+00:00")
    r.git("checkout", "-q", "-b", "f2")
    sha["b1"] = r.commit("Add thing", "2024-01-07T08:00:00+00:00")
    r.git("checkout", "-q", "main")
    sha["mr7"] = r.merge(
        "f2",
        "Merge branch 'f2' into 'main'\n\nAdd thing\n\nSee merge request grp/shop!7",
        "2024-01-07T09:00:00+00:00",
    )
    sha["e1"] = r.commit("Add experiment", "2024-01-07T10:00:00+00:00")
    r.git("revert", "--no-edit", sha["e1"], date="2024-01-07T11:00:00+00:00")
    sha["e2"] = r.head()
    r.tag("v1.2.0", "2024-01-08T00:00:00+00:00")
    sha["u1"] = r.commit("Work in progress", "2024-01-09T00:00:00+00:00")
    return Shop(r, sha)


def run(*args: str) -> str:
    result = runner.invoke(app, list(args))
    assert result.exit_code == 0, result.output
    return result.output


def fails(*args: str) -> str:
    result = runner.invoke(app, list(args))
    assert result.exit_code == 2, result.output
    return " ".join(result.output.split())


def listing(kind: str) -> list[dict]:
    out = run(
        "list",
        kind,
        "--service",
        "shop",
        "--since",
        "2023-12-01",
        "--until",
        "2024-12-31",
        "--format",
        "json",
    )
    return json.loads(out)


def test_every_verdict_of_a_git_import_names_its_records(shop: Shop) -> None:
    run("import", "git", str(shop.repo.path), "--service", "shop")
    deployments = {d["version"]: d for d in listing("deployments")}
    assert assert_every_verdict_has_evidence(list(deployments.values())) == {
        "failed": 1,
        "recovered": 1,
        "rework": 2,
    }
    # v1.1.0 shipped s1, which r1 (release branch) and d1 (main) revert; v1.1.1 ships r1 and
    # v1.2.0 ships d1: both rework, naming their revert and the release it repairs; v1.1.1,
    # the first, is v1.1.0's recovery. (e2 reverts e1 inside v1.2.0: neither failed nor rework.)
    sha = shop.sha
    failed, fix = deployments["v1.1.0"], deployments["v1.1.1"]
    assert [e["rule"] for e in failed["evidence"]] == ["revert", "revert"]  # r1 and d1
    assert failed["recovered_by"] == fix["id"]
    # the import records each as a release repairing v1.1.0 (rule `repair`), besides its revert
    assert [(e["rule"], e["repairs"]) for e in fix["rework_evidence"]] == [
        ("repair", failed["id"]),
        ("revert", failed["id"]),
    ]
    assert fix["rework_evidence"][1]["record"].endswith(sha["r1"])
    later = deployments["v1.2.0"]["rework_evidence"]
    assert [(e["rule"], e["repairs"]) for e in later] == [
        ("repair", failed["id"]),
        ("revert", failed["id"]),
    ]
    assert later[1]["record"].endswith(sha["d1"])


def test_changes_from_merges_squashes_and_direct_commits(shop: Shop) -> None:
    out = run("import", "git", str(shop.repo.path), "--service", "shop", "--team", "web")
    assert "9 changes, 4 deployments (1 failed" in " ".join(out.split())
    changes = {c["id"].split("/")[-1]: c for c in listing("changes")}
    sha = shop.sha
    # c1, m1 (PR #1), s1 (#2), d1, r1 (release branch), mr7 (!7), e1, e2, u1; a1, a2, b1 are
    # inside their merges; the rc tag and sync merges add none.
    assert set(changes) == {sha[k] for k in ("c1", "m1", "s1", "d1", "r1", "mr7", "e1", "e2", "u1")}
    pr1 = changes[sha["m1"]]
    assert (pr1["number"], pr1["title"], pr1["author"]) == (1, "Add feature X", "Grace Hopper")
    # a1 was written at 09:00+02:00 = 07:00Z; the merge at 10:00-05:00 = 15:00Z.
    assert pr1["first_commit_at"].startswith("2024-01-03T07:00:00")
    assert pr1["merged_at"].startswith("2024-01-04T15:00:00")
    # PR size is the merge's diff against main: a1 added 4 lines in a new file, a2 2 lines in
    # another: 2 files, 6 additions.
    assert (pr1["files"], pr1["additions"], pr1["deletions"]) == (2, 6, 0)
    squash = changes[sha["s1"]]
    assert (squash["number"], squash["title"], squash["additions"]) == (2, "Fix parser", 5)
    assert changes[sha["mr7"]]["number"] == 7
    assert changes[sha["mr7"]]["first_commit_at"].startswith("2024-01-07T08:00:00")
    direct = changes[sha["c1"]]
    assert (direct["number"], direct["title"]) == (None, "Initial commit")


def test_changes_ship_with_the_earliest_release_containing_them(shop: Shop) -> None:
    run("import", "git", str(shop.repo.path), "--service", "shop")
    deployed = {
        c["id"].split("/")[-1]: (c["deployment_id"] or "").split("/")[-1]
        for c in listing("changes")
    }
    sha = shop.sha
    assert deployed[sha["c1"]] == "v1.0.0"
    assert deployed[sha["m1"]] == deployed[sha["s1"]] == "v1.1.0"
    assert deployed[sha["r1"]] == "v1.1.1"  # only the release branch's tag contains it
    # d1 sits under the rc tag, which is a pre-release and not a deployment.
    assert (
        deployed[sha["d1"]]
        == deployed[sha["mr7"]]
        == deployed[sha["e1"]]
        == deployed[sha["e2"]]
        == "v1.2.0"
    )
    assert deployed[sha["u1"]] == ""  # in no release yet, and not guessed from time
    deps = {d["version"]: d for d in listing("deployments")}
    assert sorted(deps) == ["v1.0.0", "v1.1.0", "v1.1.1", "v1.2.0"]
    assert deps["v1.1.0"]["finished_at"].startswith(
        "2024-01-05T10:00:00"
    )  # lightweight: commit time
    assert deps["v1.1.1"]["finished_at"].startswith("2024-01-06T13:00:00")  # annotated: tagger time


def test_reverted_release_failed_and_the_release_shipping_the_revert_recovered_it(
    shop: Shop,
) -> None:
    run("import", "git", str(shop.repo.path), "--service", "shop")
    deps = {d["version"]: d for d in listing("deployments")}
    sha = shop.sha
    failed = deps["v1.1.0"]
    assert failed["failed"]
    assert failed["failure_reason"] == "revert"
    # s1 is reverted twice: on main by d1 and on the release branch by r1.
    assert sorted(e["record"] for e in failed["evidence"]) == sorted(
        f"git:shop/{sha[k]}" for k in ("d1", "r1")
    )
    # The first release shipping a revert is v1.1.1 at Jan 6 13:00 (v1.2.0 is Jan 8).
    assert failed["recovered_at"].startswith("2024-01-06T13:00:00")
    assert deps["v1.1.1"]["recovers"] == failed["id"]
    assert deps["v1.1.1"]["rework"]
    assert deps["v1.2.0"]["rework"]  # it ships d1, the main-line revert
    # e1 was reverted by e2 before any release: v1.2.0 shipped both, nobody saw e1 fail.
    assert [v for v, d in deps.items() if d["failed"]] == ["v1.1.0"]
    changes = {c["id"].split("/")[-1]: c for c in listing("changes")}
    assert changes[sha["d1"]]["is_revert"]
    assert changes[sha["d1"]]["reverts"] == f"git:shop/{sha['s1']}"
    assert changes[sha["e2"]]["reverts"] == f"git:shop/{sha['e1']}"


def test_sizes_count_a_rename_as_a_deletion_and_an_addition_and_binary_files_without_lines(
    repo_builder: RepoBuilder,
) -> None:
    # Given a 3-line text file and a binary file, then one commit that renames the text file
    # and changes the binary one
    r = repo_builder
    r.commit("Initial commit", "2024-02-01T00:00:00Z", lines=3, file="a.txt")
    (r.path / "logo.bin").write_bytes(b"\x00\x01\x02")
    r.git("add", "logo.bin")
    r.git("commit", "-q", "-m", "Add logo", date="2024-02-01T01:00:00Z")
    r.git("mv", "a.txt", "b.txt")
    (r.path / "logo.bin").write_bytes(b"\x00\x03")
    r.git("add", "logo.bin")
    r.git("commit", "-q", "-m", "Move a to b (#5)", date="2024-02-02T00:00:00Z")
    # When it is imported
    run("import", "git", str(r.path), "--service", "shop", "--no-deployments")
    # Then renames are not looked for: a.txt deleted (3 lines) and b.txt added (3 lines); the
    # binary file counts as a file with no lines: 3 files, 3 additions, 3 deletions.
    pr5 = next(c for c in listing("changes") if c["number"] == 5)
    assert (pr5["files"], pr5["additions"], pr5["deletions"]) == (3, 3, 3)


def test_revert_of_a_merge_commit_points_at_the_pull_request(repo_builder: RepoBuilder) -> None:
    r = repo_builder
    r.commit("Initial commit", "2024-02-01T00:00:00Z")
    r.git("checkout", "-q", "-b", "feature")
    r.commit("Risky change", "2024-02-02T00:00:00Z")
    r.git("checkout", "-q", "main")
    merge = r.merge(
        "feature", "Merge pull request #41 from x/feature\n\nRisky change", "2024-02-03T00:00:00Z"
    )
    r.tag("v2.0.0", "2024-02-04T00:00:00Z")
    r.git("revert", "--no-edit", "-m", "1", merge, date="2024-02-05T00:00:00Z")
    revert = r.head()
    r.tag("v2.0.1", "2024-02-06T00:00:00Z")
    run("import", "git", str(r.path), "--service", "shop")
    changes = {c["id"]: c for c in listing("changes")}
    assert changes[f"git:shop/{revert}"]["reverts"] == f"git:shop/{merge}"
    deps = {d["version"]: d for d in listing("deployments")}
    assert deps["v2.0.0"]["failed"]
    assert deps["v2.0.1"]["recovers"] == deps["v2.0.0"]["id"]
    # Recovery time: v2.0.0 at Feb 4 00:00, v2.0.1 at Feb 6 00:00.
    assert deps["v2.0.0"]["recovered_at"].startswith("2024-02-06T00:00:00")


def test_reimport_adds_only_what_is_new_including_tags_on_old_commits(shop: Shop) -> None:
    run("import", "git", str(shop.repo.path), "--service", "shop")
    out = run("import", "git", str(shop.repo.path), "--service", "shop")
    assert "up to date" in out
    r = shop.repo
    new = r.commit("Add docs (#9)", "2024-01-10T00:00:00Z", lines=7)
    r.tag("v1.3.0", "2024-01-11T00:00:00Z", ref=shop.sha["u1"])  # a release of an old commit
    out = " ".join(run("import", "git", str(r.path), "--service", "shop").split())
    # New: the v1.3.0 deployment and change #9; u1 is rewritten with its deployment.
    assert "Written: 1 deployments, 1 changes" in out
    changes = {c["id"].split("/")[-1]: c for c in listing("changes")}
    assert changes[shop.sha["u1"]]["deployment_id"] == "git:shop/tag/v1.3.0"
    assert (changes[new]["number"], changes[new]["additions"], changes[new]["deployment_id"]) == (
        9,
        7,
        None,
    )
    # Sizes stored by the first import are kept: PR #1 still 6 lines.
    assert changes[shop.sha["m1"]]["additions"] == 6


def test_prereleases_count_when_asked_and_patterns_select_tags(shop: Shop) -> None:
    run("import", "git", str(shop.repo.path), "--service", "shop", "--prereleases")
    deps = {d["version"] for d in listing("deployments")}
    assert deps == {"v1.0.0", "v1.1.0", "v1.1.1", "v1.2.0rc1", "v1.2.0"}
    changes = {c["id"].split("/")[-1]: c for c in listing("changes")}
    assert changes[shop.sha["d1"]]["deployment_id"] == "git:shop/tag/v1.2.0rc1"


def test_bare_clone_imports_the_same(shop: Shop, tmp_path: Path) -> None:
    bare = tmp_path / "shop.git"
    shop.repo.git("clone", "-q", "--bare", str(shop.repo.path), str(bare))
    out = " ".join(run("import", "git", str(bare), "--service", "shop").split())
    assert "Imported shop into service shop" in out
    assert "9 changes, 4 deployments" in out


def test_progress_counts_the_commits_read_and_the_main_line_diffed(
    shop: Shop, tmp_path: Path
) -> None:
    # Given the shop repository: 12 commits (c1 a1 a2 m1 s1 r1 d1 b1 mr7 e1 e2 u1), of which
    # the first-parent chains of main and of the release tags hold 9: c1 m1 s1 d1 mr7 e1 e2 u1
    # and r1 (v1.1.1's chain joins main at s1).
    settings = Settings(database=str(tmp_path / "progress.duckdb"))
    store = open_store(settings)
    opts = Options(service="shop", repository="shop")
    seen: list[tuple[str, int, int | None]] = []
    try:
        # When it is imported with a progress callback
        import_repository(
            store, settings, shop.repo.path, opts, progress=lambda *event: seen.append(event)
        )
    finally:
        store.close()
    # Then reading counts every commit, with no total known in advance
    assert [e for e in seen if e[0] == "Reading history"][-1] == ("Reading history", 12, None)
    # and the diffs count up to the 9 main-line commits, in one git process or shared by two.
    refs = read_refs(shop.repo.path)
    tags = release_tags(refs, opts)
    tips = main_line_tips(refs.head, tags)
    counts: list[int] = []
    sizes = read_sizes(shop.repo.path, tips, progress=counts.append)
    assert (len(sizes), counts[-1]) == (9, 9)
    assert sizes[shop.sha["m1"]] == (2, 6, 0)  # PR #1: 2 files, 4 + 2 lines added
    shared: dict[str, tuple[int, int, int]] = {}
    for block in Diffs(shop.repo.path, main_line_walks(refs.head, tags, 2)):
        shared.update(block)
    assert shared == sizes


def _nothing_written() -> None:
    store = open_store(get_settings())
    try:
        assert store.count("changes") == store.count("deployments") == 0
    finally:
        store.close()


def test_not_a_repository(tmp_path: Path) -> None:
    out = fails("import", "git", str(tmp_path), "--service", "shop")
    assert "is not a git repository" in out
    assert "bare clone" in out
    _nothing_written()


def test_pattern_that_matches_nothing(shop: Shop) -> None:
    out = fails(
        "import", "git", str(shop.repo.path), "--service", "shop", "--deploy-tags", "deploy-*"
    )
    assert "no tag matches deploy-*" in out
    assert "v1.2.0" in out
    assert "--deploy-tags" in out
    _nothing_written()


def test_only_prereleases_match(shop: Shop) -> None:
    out = fails("import", "git", str(shop.repo.path), "--service", "shop", "--deploy-tags", "*rc*")
    assert "1 pre-release tag(s) matched" in out
    assert "--prereleases" in out


def test_empty_history(repo_builder: RepoBuilder) -> None:
    out = fails("import", "git", str(repo_builder.path), "--service", "shop")
    assert "has no commits" in out
    _nothing_written()


def test_shallow_clone_says_what_is_missing(shop: Shop, tmp_path: Path) -> None:
    shallow = tmp_path / "shallow"
    shop.repo.git("clone", "-q", "--depth", "1", f"file://{shop.repo.path}", str(shallow))
    out = fails("import", "git", str(shallow), "--service", "shop")
    assert "shallow clone" in out
    assert "git fetch --unshallow" in out
    _nothing_written()


def test_no_tags_at_all_suggests_changes_only(repo_builder: RepoBuilder) -> None:
    repo_builder.commit("Initial commit", "2024-01-01T00:00:00Z")
    out = fails("import", "git", str(repo_builder.path), "--service", "shop")
    assert "no tags" in out
    assert "--no-deployments" in out
    run("import", "git", str(repo_builder.path), "--service", "shop", "--no-deployments")
    assert len(listing("changes")) == 1


def test_import_service_on_both_engines(
    shop: Shop, store: Store, engine_settings: Settings
) -> None:
    opts = Options(service="shop", repository="shop")
    report = import_repository(store, engine_settings, shop.repo.path, opts)
    # 9 changes, 4 deployments and the service: 14 new rows; v1.1.0 failed (s1 reverted).
    assert (report.changes, report.deployments, sum(report.written.values())) == (9, 4, 14)
    assert list(report.failed) == ["git:shop/tag/v1.1.0"]
    assert import_repository(store, engine_settings, shop.repo.path, opts).up_to_date
    linked = store.query("SELECT count(*) FROM changes WHERE deployment_id = 'git:shop/tag/v1.2.0'")
    assert linked == [(4,)]  # d1, mr7, e1, e2


def test_a_release_fails_by_what_it_shipped_not_by_when_the_revert_was_committed(
    repo_builder: RepoBuilder, store: Store, engine_settings: Settings
) -> None:
    # Given x, reverted by x' on Feb 3 while v1.1 is tagged on x on Feb 4 (so v1.1 lacks x'),
    # and y reverted by y' and re-landed by y'' before v1.2 ships all four on Feb 6
    r = repo_builder
    r.commit("Initial commit", "2024-02-01T00:00:00Z")
    r.tag("v1.0", "2024-02-01T01:00:00Z")
    x = r.commit("Add x", "2024-02-02T00:00:00Z")
    r.commit(f'Revert "Add x"\n\nThis reverts commit {x}.', "2024-02-03T00:00:00Z")
    r.tag("v1.1", "2024-02-04T00:00:00Z", ref=x)
    y = r.commit("Add y", "2024-02-05T00:00:00Z")
    y1 = r.commit(f'Revert "Add y"\n\nThis reverts commit {y}.', "2024-02-05T01:00:00Z")
    r.commit(f'Revert "Revert "Add y""\n\nThis reverts commit {y1}.', "2024-02-05T02:00:00Z")
    r.tag("v1.2", "2024-02-06T00:00:00Z")

    # When it is imported
    report = import_repository(store, engine_settings, r.path, Options("shop", "shop"))
    rows = {
        d["version"]: d
        for d in records.deployments(
            store,
            PRESETS["dora"],
            Scope("service", "shop"),
            Period(datetime(2024, 2, 1), datetime(2024, 3, 1)),
        )
    }

    # Then v1.1 failed (it shipped x without x'), v1.2 recovered it two days later and is
    # rework; y, y' and y'' shipped together and count for nothing
    assert list(report.failed) == ["git:shop/tag/v1.1"]
    assert {v: (d["failed"], d["rework"]) for v, d in rows.items()} == {
        "v1.0": (False, False),
        "v1.1": (True, False),
        "v1.2": (False, True),
    }
    assert rows["v1.1"]["recovered_at"] == "2024-02-06T00:00:00Z"
    assert rows["v1.2"]["recovers"] == "git:shop/tag/v1.1"


# -- re-import: only what is new, and the same records as importing afresh --------------------

_CHANGE_COLUMNS = (
    "id, author, number, title, first_commit_at, merged_at, merge_sha, additions, deletions, "
    "files, is_revert, reverts, deployment_ref, deployment_id"
)
_DEPLOYMENT_COLUMNS = "id, finished_at, sha, version, recovers"


def _snapshot(store: Store) -> tuple[list[tuple], list[tuple]]:
    return (
        store.query(f"SELECT {_CHANGE_COLUMNS} FROM changes ORDER BY id"),
        store.query(f"SELECT {_DEPLOYMENT_COLUMNS} FROM deployments ORDER BY id"),
    )


def _reimport_matches_fresh_import(path: Path, tmp_path: Path, branch: str | None = None) -> int:
    """Re-import into the store the first import used, import afresh into a new store, and
    check both hold the same records. Returns how many commits the re-import read."""
    opts = Options(service="shop", repository="shop")
    kept = open_store(get_settings())
    fresh_settings = Settings(database=str(tmp_path / "fresh.duckdb"))
    fresh = open_store(fresh_settings)
    try:
        report = import_repository(kept, get_settings(), path, opts, branch)
        import_repository(fresh, fresh_settings, path, opts, branch)
        assert _snapshot(kept) == _snapshot(fresh)
        return report.commits
    finally:
        kept.close()
        fresh.close()


def test_reimport_reads_only_new_commits_and_ships_them_with_a_new_release(
    shop: Shop, tmp_path: Path
) -> None:
    run("import", "git", str(shop.repo.path), "--service", "shop")
    r = shop.repo
    r.commit("Add docs (#9)", "2024-01-10T00:00:00Z", lines=7)
    r.commit("Tidy docs", "2024-01-10T01:00:00Z")
    r.tag("v1.3.0", "2024-01-11T00:00:00Z")
    # Read: the two new commits only. v1.3.0 ships them and u1, which no release held.
    assert _reimport_matches_fresh_import(r.path, tmp_path) == 2
    changes = {c["id"].split("/")[-1]: c for c in listing("changes")}
    assert changes[shop.sha["u1"]]["deployment_id"] == "git:shop/tag/v1.3.0"


def test_reimport_new_tag_on_old_commits_takes_them_from_a_later_release(
    shop: Shop, tmp_path: Path
) -> None:
    run("import", "git", str(shop.repo.path), "--service", "shop")
    # v1.1.5 on d1 (the main-line revert of s1), tagged Jan 6 11:30: before v1.2.0 (Jan 8),
    # so d1 now ships with v1.1.5, which recovers v1.1.0; v1.2.0 recovers nothing any more.
    shop.repo.tag("v1.1.5", "2024-01-06T11:30:00+00:00", ref=shop.sha["d1"])
    assert _reimport_matches_fresh_import(shop.repo.path, tmp_path) == 0
    deps = {d["version"]: d for d in listing("deployments")}
    assert deps["v1.1.5"]["recovers"] == "git:shop/tag/v1.1.0"
    assert deps["v1.2.0"]["recovers"] is None
    changes = {c["id"].split("/")[-1]: c for c in listing("changes")}
    assert changes[shop.sha["d1"]]["deployment_id"] == "git:shop/tag/v1.1.5"


def test_reimport_revert_of_an_old_release_fails_it(shop: Shop, tmp_path: Path) -> None:
    run("import", "git", str(shop.repo.path), "--service", "shop")
    r = shop.repo
    r.git("revert", "--no-edit", "-m", "1", shop.sha["mr7"], date="2024-01-10T00:00:00Z")
    revert = r.head()
    r.tag("v1.2.1", "2024-01-10T01:00:00Z")
    assert _reimport_matches_fresh_import(r.path, tmp_path) == 1
    # v1.2.0 shipped !7 on Jan 8; reverted on Jan 10, shipped by v1.2.1 an hour later.
    deps = {d["version"]: d for d in listing("deployments")}
    assert deps["v1.2.0"]["failed"]
    assert [e["record"] for e in deps["v1.2.0"]["evidence"]] == [f"git:shop/{revert}"]
    assert deps["v1.2.1"]["recovers"] == "git:shop/tag/v1.2.0"


def test_reimport_reverting_an_old_revert_is_a_reland(shop: Shop, tmp_path: Path) -> None:
    run("import", "git", str(shop.repo.path), "--service", "shop")
    r = shop.repo
    # Written by hand: git cannot revert e2 cleanly, u1 reused the file e1 added.
    reland = r.commit(
        f'Revert "Revert \\"Add experiment\\""\n\nThis reverts commit {shop.sha["e2"]}.',
        "2024-01-10T00:00:00Z",
        file="experiment.txt",
    )
    r.tag("v1.2.1", "2024-01-10T01:00:00Z")
    assert _reimport_matches_fresh_import(r.path, tmp_path) == 1
    changes = {c["id"].split("/")[-1]: c for c in listing("changes")}
    assert changes[reland]["reverts"] is None  # e2 was itself a revert: e1 is back
    deps = {d["version"]: d for d in listing("deployments")}
    assert not deps["v1.2.0"]["failed"]


def test_reimport_new_release_branch_tag_joins_the_old_main_line(
    shop: Shop, tmp_path: Path
) -> None:
    run("import", "git", str(shop.repo.path), "--service", "shop")
    r = shop.repo
    r.git("checkout", "-q", "release-1.1")
    fix = r.commit("Backport fix", "2024-01-09T12:00:00Z")
    r.tag("v1.1.2", "2024-01-09T13:00:00Z")
    r.git("checkout", "-q", "main")
    assert _reimport_matches_fresh_import(r.path, tmp_path) == 1
    changes = {c["id"].split("/")[-1]: c for c in listing("changes")}
    assert changes[fix]["deployment_id"] == "git:shop/tag/v1.1.2"


def test_reimport_follows_history_only_a_full_derivation_can(shop: Shop, tmp_path: Path) -> None:
    run("import", "git", str(shop.repo.path), "--service", "shop")
    r = shop.repo
    # A revert of a1, a commit inside PR #1: the change it reverts is PR #1 (m1), which only
    # the whole history can tell. And a deleted tag removes its deployment.
    r.git("revert", "--no-edit", shop.sha["a1"], date="2024-01-10T00:00:00Z")
    revert = r.head()
    r.git("tag", "-d", "v1.0.0")
    r.tag("v1.3.0", "2024-01-11T00:00:00Z")
    _reimport_matches_fresh_import(r.path, tmp_path)
    changes = {c["id"].split("/")[-1]: c for c in listing("changes")}
    assert changes[revert]["reverts"] == f"git:shop/{shop.sha['m1']}"
    assert "v1.0.0" not in {d["version"] for d in listing("deployments")}


def test_reimport_of_a_named_branch_reads_only_its_new_commits(shop: Shop, tmp_path: Path) -> None:
    r = shop.repo
    run("import", "git", str(r.path), "--service", "shop", "--branch", "main")
    r.git("checkout", "-q", "release-1.1")
    backport = r.commit("Backport search", "2024-01-10T00:00:00Z")
    r.git("checkout", "-q", "main")
    added = r.commit("Add search (#11)", "2024-01-10T01:00:00Z", lines=3)
    r.git("checkout", "-q", "release-1.1")  # HEAD elsewhere: --branch names the main line
    # Read: the two new commits, on main and on release-1.1.
    assert _reimport_matches_fresh_import(r.path, tmp_path, branch="main") == 2
    changes = {c["id"].split("/")[-1]: c for c in listing("changes")}
    assert (changes[added]["number"], changes[added]["additions"]) == (11, 3)
    assert backport not in changes  # on a release branch no release tag holds yet


def test_a_failed_import_stops_its_diffs(
    shop: Shop, store: Store, engine_settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    import threading
    import time

    from headway.ingest.git import importer
    from headway.sources.git import diffs as diffs_module

    # Given git diffs that would run for ever (a history too long to finish)
    closed = threading.Event()

    def endless(path: Path, shas: object, walk: object) -> object:
        try:
            while True:
                time.sleep(0.001)  # git's pace, roughly: a block now and then
                yield {}
        finally:
            closed.set()

    monkeypatch.setattr(diffs_module, "_numstat", endless)

    # When deriving the history fails while they run
    def broken(*args: object) -> object:
        raise RuntimeError("derivation failed")

    monkeypatch.setattr(importer, "derive", broken)
    with pytest.raises(RuntimeError, match="derivation failed"):
        import_repository(
            store, engine_settings, shop.repo.path, Options(service="shop", repository="shop")
        )
    # Then the diffs are stopped, not left running
    assert closed.wait(10)
    assert store.query("SELECT count(*) FROM changes") == [(0,)]
