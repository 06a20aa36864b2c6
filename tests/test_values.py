"""What a record's fields may hold: commit ids, ref names (as git itself judges them), types."""

from __future__ import annotations

import subprocess
from datetime import UTC, datetime

from hypothesis import given, settings
from hypothesis import strategies as st

from headway.model import Change, Deployment
from headway.values import problem, ref_problem, sha_problem


def test_a_commit_id_is_7_to_40_hexadecimal_digits() -> None:
    assert sha_problem("f95f852") is None  # 7, the shortest git abbreviates to
    assert sha_problem("F95F852BD8FCA8FCC58A9A2D6C842781E32A215E") is None  # 40
    for bad in ("f95f85", "f" * 41, "--output=/tmp/x", "-f95f852", "g95f852", "f95f852 "):
        assert sha_problem(bad) is not None, bad


def _git_accepts(name: str) -> bool:
    done = subprocess.run(
        ["git", "check-ref-format", "--allow-onelevel", name], capture_output=True, check=False
    )
    return done.returncode == 0 and not name.startswith("-")


REF_TEXT = st.lists(
    st.sampled_from([*"ab1-./@{}~^:?*[\\ \t\x7fé", ".lock", "..", "@{"]), max_size=8
).map("".join)


@settings(max_examples=300, deadline=None)
@given(REF_TEXT)
def test_a_ref_name_is_what_git_check_ref_format_accepts(name: str) -> None:
    # Given any short text over the characters the rules are about
    # Then it is a ref name exactly when `git check-ref-format --allow-onelevel` says so
    # (and, as for branch names, it does not start with '-')
    assert (ref_problem(name) is None) == _git_accepts(name), name


def test_refs_a_deployment_names_are_checked_when_they_come_from_git_or_a_git_host() -> None:
    at = datetime(2026, 10, 1, tzinfo=UTC)
    assert problem(Deployment("github", "1", "shop", at, version="v1.2.0")) is None
    assert "deployments.version" in str(
        problem(Deployment("github", "1", "shop", at, version="--upload-pack=x"))
    )
    # a CDEvents artifact id is a package URL, not a ref
    assert (
        problem(Deployment("cdevents", "1", "shop", at, version="pkg:oci/shop@sha256:ab")) is None
    )


def test_a_field_of_the_wrong_type_is_named() -> None:
    # Given a change whose size is text (as a payload may say)
    change = Change("github", "acme/shop#1", "shop", additions="12")  # type: ignore[arg-type]
    # Then the problem names the table, the field and what it should be
    assert problem(change) == "changes.additions: expected an integer, got str '12'"
