"""`headway flags refs PATH`: flag keys found in a checkout in four languages, recorded with the
commit, read against the flags Headway serves."""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from headway.cli import app
from headway.config import Settings, get_settings
from headway.flags.model import ConfigError
from headway.flags.refs import load_patterns, scan_text, scan_tree
from tests.flags.conftest import start_live, stop_live

runner = CliRunner()

PYTHON = """\
from openfeature import api
from headway.sdk import Client

client = api.get_client()
headway = Client("http://localhost:8000", "hws_key")


def checkout(user):
    if client.get_boolean_value("new-checkout", False):
        return "new"
    banner = headway.string("banner-text", "hello", {"targetingKey": user})
    return client.get_string_details(
        "ghost-flag",
        "x",
    )
"""

TYPESCRIPT = """\
import { OpenFeature } from '@openfeature/web-sdk';
import { useBooleanFlagValue } from '@openfeature/react-sdk';

const client = OpenFeature.getClient();
export function Banner() {
  const dark = useBooleanFlagValue('dark-mode', false);
  const size = client.getNumberValue("page-size", 20);
  return `${dark} ${size}`;
}
"""

GO = """\
package main

import (
\t"context"

\t"github.com/open-feature/go-sdk/openfeature"
)

func main() {
\tclient := openfeature.NewClient("app")
\tv, _ := client.BooleanValue(context.Background(), "new-checkout", false, openfeature.EvaluationContext{})
\t_ = v
}
"""

JAVA = """\
package shop;

import dev.openfeature.sdk.Client;

class Pricing {
    double price(Client client) {
        if (client.getBooleanValue("new-pricing", false)) {
            return client.getDoubleValue("discount", 0.0);
        }
        return 1.0;
    }
}
"""


def _git(root: Path, *args: str) -> str:
    env = {
        **os.environ,
        "GIT_AUTHOR_NAME": "Ada",
        "GIT_AUTHOR_EMAIL": "ada@example.com",
        "GIT_COMMITTER_NAME": "Ada",
        "GIT_COMMITTER_EMAIL": "ada@example.com",
    }
    done = subprocess.run(
        ["git", "-C", str(root), *args], capture_output=True, text=True, check=True, env=env
    )
    return done.stdout.strip()


@pytest.fixture
def shop(tmp_path: Path) -> Path:
    """A small repository: a Python service, a TypeScript app, a Go tool and a Java library,
    plus what a scan must not read (an untracked dependency folder, a symbolic link)."""
    root = tmp_path / "shop"
    files = {
        "service/checkout.py": PYTHON,
        "web/src/Banner.tsx": TYPESCRIPT,
        "tools/main.go": GO,
        "lib/src/main/java/shop/Pricing.java": JAVA,
        "README.md": 'Call get_boolean_value("not-code", False) from Python.\n',
    }
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    outside = tmp_path / "outside.py"
    outside.write_text('client.get_boolean_value("outside-flag", False)\n')
    (root / "link.py").symlink_to(outside)  # tracked, but never followed
    _git(root, "init", "-q", "-b", "main")
    _git(root, "add", ".")
    _git(root, "commit", "-q", "-m", "Add the shop")
    vendored = root / "web" / "node_modules" / "lib.js"  # untracked: not read
    vendored.parent.mkdir()
    vendored.write_text('client.getBooleanValue("vendored-flag", false);\n')
    return root


def test_each_language_is_read_where_the_key_is() -> None:
    # Lines counted by hand in the sources above; "ghost-flag" sits on the line after the call.
    assert [(r.flag, r.line, r.pattern) for r in scan_text(PYTHON, "a.py")] == [
        ("new-checkout", 9, "openfeature"),
        ("banner-text", 11, "headway-python"),
        ("ghost-flag", 13, "openfeature"),
    ]
    assert [(r.flag, r.line) for r in scan_text(TYPESCRIPT, "b.tsx")] == [
        ("dark-mode", 6),
        ("page-size", 7),
    ]
    assert [(r.flag, r.line) for r in scan_text(GO, "c.go")] == [("new-checkout", 11)]
    assert [(r.flag, r.line) for r in scan_text(JAVA, "d.java")] == [
        ("new-pricing", 7),
        ("discount", 8),
    ]
    assert scan_text(PYTHON, "notes.txt") == []  # no pattern covers the extension


def test_a_checkout_is_scanned_at_its_commit(shop: Path) -> None:
    scan = scan_tree(shop)

    assert scan.commit == _git(shop, "rev-parse", "HEAD")
    assert scan.files == 4  # the tracked .py, .tsx, .go and .java files; not the link
    assert sorted({r.flag for r in scan.references}) == [
        "banner-text",
        "dark-mode",
        "discount",
        "ghost-flag",
        "new-checkout",
        "new-pricing",
        "page-size",
    ]
    assert [str(r) for r in scan.references if r.flag == "new-checkout"] == [
        "service/checkout.py:9",
        "tools/main.go:11",
    ]


def test_a_folder_outside_git_is_walked_without_dependencies(tmp_path: Path) -> None:
    (tmp_path / "node_modules").mkdir()
    (tmp_path / "node_modules" / "x.js").write_text("getBooleanValue('vendored', false)")
    (tmp_path / "app.js").write_text("getBooleanValue('mine', false)")
    scan = scan_tree(tmp_path)
    assert scan.commit is None
    assert [(r.flag, r.path) for r in scan.references] == [("mine", "app.js")]


def test_patterns_from_a_file(tmp_path: Path) -> None:
    path = tmp_path / "patterns.toml"
    path.write_text(
        'defaults = false\n[[pattern]]\nname = "wrapper"\nlanguages = ["python"]\n'
        "regex = 'is_on\\(\\s*\"([a-z-]+)\"'\n"
    )
    patterns, defaults = load_patterns(path)
    assert defaults is False
    found = scan_text('x = is_on("beta")\nclient.get_boolean_value("y", 1)\n', "a.py", patterns)
    assert [(r.flag, r.line, r.pattern) for r in found] == [("beta", 1, "wrapper")]


@pytest.mark.parametrize(
    ("regex", "problem"),
    [
        ("'(a)(b)'", "2 capturing groups"),
        ("'(a'", "RE2 cannot compile it"),
        ("'(a)\\1'", "RE2 cannot compile it"),  # backreferences are not RE2
        ("'" + "a" * 2000 + "(b)'", "at most 1024"),
    ],
)
def test_a_bad_pattern_is_named(tmp_path: Path, regex: str, problem: str) -> None:
    path = tmp_path / "patterns.toml"
    path.write_text(f'[[pattern]]\nname = "p"\nlanguages = ["go"]\nregex = {regex}\n')
    with pytest.raises(ConfigError, match=r"pattern\[0\]\.regex") as error:
        load_patterns(path)
    assert problem in str(error.value)


def test_a_hostile_pattern_runs_in_linear_time(tmp_path: Path) -> None:
    # ^(a+)+$ backtracks forever in Python's re on a run of a's ending in b; RE2 does not.
    path = tmp_path / "patterns.toml"
    path.write_text('[[pattern]]\nname = "evil"\nlanguages = ["python"]\nregex = "(a+)+$"\n')
    patterns, _ = load_patterns(path)
    assert scan_text("a" * 100_000 + "b\n", "x.py", patterns) == []


@pytest.fixture(params=["store", "server"])
def where(
    request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[str]:
    if request.param == "store":
        yield "store"
        return
    live = start_live(Settings(database=str(tmp_path / "served.duckdb")))
    monkeypatch.setenv("HEADWAY_URL", live.url)
    monkeypatch.setenv("HEADWAY_TOKEN", live.admin["Authorization"].removeprefix("Bearer "))
    get_settings.cache_clear()
    try:
        yield "server"
    finally:
        stop_live(live)
        get_settings.cache_clear()


def _ok(*args: str) -> str:
    result = runner.invoke(app, list(args))
    assert result.exit_code == 0, result.output
    return result.output


def test_refs_lists_unknown_keys_and_unused_flags(shop: Path, where: str) -> None:
    # Given Headway serves new-checkout, dark-mode and an old flag no code reads
    for key in ("new-checkout", "dark-mode", "old-banner"):
        _ok("flags", "create", key, "--owner", "web")

    # When the shop is scanned
    report = json.loads(_ok("flags", "refs", str(shop), "--json"))

    # Then each key has its places, the others are unknown, and old-banner is unused
    assert report["repository"] == "shop"
    assert report["commit"] == _git(shop, "rev-parse", "HEAD")
    assert report["files"] == 4
    by_flag = {f["flag"]: f for f in report["flags"]}
    assert by_flag["new-checkout"] == {
        "flag": "new-checkout",
        "known": True,
        "references": ["service/checkout.py:9", "tools/main.go:11"],
    }
    assert report["unknown"] == [
        "banner-text",
        "discount",
        "ghost-flag",
        "new-pricing",
        "page-size",
    ]
    assert report["unused"] == ["old-banner"]
    # A table for people, naming the same
    table = _ok("flags", "refs", str(shop), "--repository", "acme/shop")
    assert "acme/shop at " in table
    assert "Unused flags: old-banner" in table


def test_refs_refuses_a_bad_pattern_file(shop: Path, tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text('[[pattern]]\nname = "p"\nlanguages = ["cobol"]\nregex = "(x)"\n')
    result = runner.invoke(app, ["flags", "refs", str(shop), "--patterns", str(bad)])
    assert result.exit_code == 2
    assert "pattern[0].languages" in result.output


def test_a_settled_flag_is_taken_out_of_the_code_by_a_patch(shop: Path) -> None:
    # Given new-checkout is on everywhere (and so serves true to everyone)
    _ok("flags", "create", "new-checkout", "--owner", "web")
    for env in ("development", "staging", "production"):
        _ok("flags", "set", "new-checkout", "--env", env, "--on")

    # When its cleanup patch is printed and applied
    patch = _ok("flags", "cleanup", "new-checkout", str(shop))
    (shop / "cleanup.patch").write_text(patch)
    _git(shop, "apply", "cleanup.patch")

    # Then the Python and Go calls are the value itself; nothing else moved
    python = (shop / "service/checkout.py").read_text().splitlines()
    assert python[8] == "    if True:"
    assert python[10].startswith('    banner = headway.string("banner-text"')
    go = (shop / "tools/main.go").read_text().splitlines()
    assert go[10] == "\tv, _ := true, error(nil)"
    changed = _git(shop, "diff", "--name-only").split()
    assert changed == ["service/checkout.py", "tools/main.go"]


def test_a_flag_still_rolling_out_has_no_cleanup(shop: Path) -> None:
    _ok("flags", "create", "new-checkout", "--owner", "web")
    _ok("flags", "set", "new-checkout", "--env", "production", "--on")
    refused = runner.invoke(app, ["flags", "cleanup", "new-checkout", str(shop)])
    assert refused.exit_code == 2
    assert "does not serve one value to everyone everywhere" in refused.output


def test_cleanup_skips_strings_and_details_calls() -> None:
    from headway.flags.cleanup import cleanup_text

    text = (
        'a = client.get_boolean_value("k", compute("x)"))\n'
        'b = client.get_boolean_details("k", False)\n'
        'c = client.get_boolean_value("other", False)\n'
    )
    assert cleanup_text(text, "m.py", "k", False).splitlines() == [
        "a = False",
        'b = client.get_boolean_details("k", False)',
        'c = client.get_boolean_value("other", False)',
    ]
    assert cleanup_text('x := c.BooleanValue(ctx, "k", false, ec)', "m.go", "k", True) == (
        "x := true, error(nil)"
    )
