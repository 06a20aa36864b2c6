"""`headway pulse`: survey links and the results per team and month, on the store."""

from __future__ import annotations

import json
import os
import re
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from headway.cli import app
from headway.config import get_settings
from headway.ingest import ingest
from headway.interpret import pulse, pulse_links
from headway.sources.files import parse_record
from headway.store import open_store
from tests.conftest import make_token, run_headway, serving
from tests.web.conftest import RECORDS

runner = CliRunner()


def _org(answers: dict[str, list[tuple[int, int, int]]]) -> None:
    """The web app's organisation (teams core and money), with these October answers."""
    settings = get_settings()
    store = open_store(settings)
    ingest(store, settings, (parse_record(r, "t") for r in RECORDS))
    for team, given in answers.items():
        for a, b, c in given:
            scores = {"ship_safely": a, "recover_quickly": b, "release_process": c}
            pulse.answer(store, team, scores, datetime(2026, 10, 9, tzinfo=UTC))
    store.close()


def test_results_show_the_means_and_hide_a_team_with_too_few() -> None:
    # core: (5, 4, 1), (4, 4, 2), (3, 1, 3) → 12/3 = 4.00, 9/3 = 3.00, 6/3 = 2.00; overall 27/9
    _org({"core": [(5, 4, 1), (4, 4, 2), (3, 1, 3)], "money": [(5, 5, 5), (1, 1, 1)]})
    done = runner.invoke(app, ["pulse", "results"])
    assert done.exit_code == 0, done.output
    lines = [re.sub(r"\s+", " ", line).strip(" │┃") for line in done.stdout.splitlines()]
    assert "core │ 2026-10 │ 3 │ 4.00 │ 3.00 │ 2.00 │ 3.00" in lines
    assert any(line.startswith("money │ 2026-10 │ too few answers") for line in lines)
    assert "5.00" not in done.stdout  # money's scores are nowhere
    found = json.loads(
        runner.invoke(app, ["pulse", "results", "--team", "money", "-f", "json"]).stdout
    )
    assert found["teams"] == [{"team": "money", "months": [{
        "month": "2026-10", "answers": None, "means": None, "overall": None, "reason": pulse.TOO_FEW,
    }]}]  # fmt: skip
    csv = runner.invoke(app, ["pulse", "results", "--team", "core", "-f", "csv"]).stdout
    assert csv.splitlines() == [
        "team,month,answers,ship_safely,recover_quickly,release_process,overall,reason",
        "core,2026-10,3,4.0,3.0,2.0,3.0,",
    ]


def test_a_link_is_printed_once_and_opens_for_its_team() -> None:
    _org({})
    done = runner.invoke(app, ["pulse", "link", "--team", "core", "--days", "3"])
    assert done.exit_code == 0, done.output
    path = done.stdout.strip()
    assert re.fullmatch(r"/pulse/[A-Za-z0-9_-]{32}", path)
    assert "Team core's pulse" in done.stderr
    assert "shown only now" in done.stderr
    store = open_store(get_settings())
    assert pulse_links.resolve(store, path.removeprefix("/pulse/"), datetime.now(UTC)) == "core"
    store.close()


def test_bad_input_is_refused_naming_the_option() -> None:
    _org({})
    for args, says in [
        (
            ["pulse", "link", "--team", "core", "--days", "0"],
            "--days 0: a link stays open from 1 to 90 days",
        ),
        (["pulse", "link", "--team", "nosuch"], "no team named 'nosuch'"),
        (["pulse", "results", "--team", "nosuch"], "no team named 'nosuch'"),
        (["pulse", "results", "--team", " "], "--team is empty"),
    ]:
        done = runner.invoke(app, args)
        assert (done.exit_code, done.stdout) == (2, ""), args
        assert says in done.stderr, done.stderr


@pytest.mark.slow
def test_through_a_server_the_link_is_its_url_and_the_results_are_the_same(
    tmp_path: Path,
) -> None:
    # Given the organisation with core's three October answers, on a store a server holds
    _org({"core": [(5, 4, 1), (4, 4, 2), (3, 1, 3)]})
    env = {**os.environ, "HEADWAY_DATABASE": str(tmp_path / "headway.duckdb"), "COLUMNS": "200"}
    local = run_headway("pulse", "results", "--format", "json", env=env)
    admin = make_token(env, "admin")
    with serving(env) as url:
        remote = {**env, "HEADWAY_URL": url, "HEADWAY_TOKEN": admin}
        # Then the results read through it are the store's
        there = run_headway("pulse", "results", "--format", "json", env=remote)
        assert (there.returncode, there.stdout) == (0, local.stdout)
        # And a link made through it is printed as the server's URL, whose page opens
        made = run_headway("pulse", "link", "--team", "core", env=remote)
        assert made.returncode == 0, made.stderr
        link = made.stdout.strip()
        assert re.fullmatch(re.escape(url) + r"/pulse/[A-Za-z0-9_-]{32}", link)
        page = httpx.get(link)
        assert page.status_code == 200
        assert "Developer confidence pulse · core" in page.text
