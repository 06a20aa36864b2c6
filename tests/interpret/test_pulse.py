"""The developer confidence pulse, on both engines: answers kept anonymous, means and the
anonymity threshold worked out by hand, survey links, and the review's "Developer
confidence" section beside deployment frequency and how rollouts ended.

The organisation is the web app's (tests/web/conftest.py): `api` (team core) deployed twice
in October 2026, `ledger` (team money) once.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from headway.config import Settings
from headway.definitions import PRESETS
from headway.ingest import ingest
from headway.interpret import pulse, pulse_links, review
from headway.interpret.results import Review
from headway.metrics.scope import Period, Scope, UnknownScope
from headway.rollouts.plan import State
from headway.rollouts.store import Rollout
from headway.sources.files import parse_record
from headway.store import Store, audit
from headway.store import pulse as statements
from tests.rollouts.test_controller import plan
from tests.web.conftest import RECORDS

SEPTEMBER, OCTOBER, NOVEMBER = (datetime(2026, m, 15, 9, 30, tzinfo=UTC) for m in (9, 10, 11))


@pytest.fixture
def org(store: Store, engine_settings: Settings) -> Store:
    ingest(store, engine_settings, (parse_record(r, "t") for r in RECORDS))
    return store


def _answer(store: Store, team: str, at: datetime, a: int, b: int, c: int) -> None:
    pulse.answer(store, team, {"ship_safely": a, "recover_quickly": b, "release_process": c}, at)


def test_the_store_names_the_questions_the_survey_asks() -> None:
    # The store may not import the survey, so it spells the answer columns out itself.
    assert statements.QUESTIONS == pulse.KEYS


@pytest.mark.parametrize(
    ("given", "field", "says"),
    [
        ({"recover_quickly": "3", "release_process": "3"}, "ship_safely", "is missing"),
        ({"ship_safely": " ", "recover_quickly": "3"}, "ship_safely", "is missing"),
        ({"ship_safely": "4", "recover_quickly": "3"}, "release_process", "is missing"),
        ({"ship_safely": "6", "recover_quickly": "3", "release_process": "3"}, "ship_safely",
         "from 1 to 5"),
        ({"ship_safely": "1", "recover_quickly": "0", "release_process": "3"}, "recover_quickly",
         "from 1 to 5"),
        ({"ship_safely": "2", "recover_quickly": "3", "release_process": "4.5"},
         "release_process", "whole number"),
        ({"ship_safely": True, "recover_quickly": 3, "release_process": 3}, "ship_safely",
         "whole number"),
        ({"ship_safely": "²", "recover_quickly": 3, "release_process": 3}, "ship_safely",
         "whole number"),
    ],
)  # fmt: skip
def test_a_missing_or_bad_score_is_refused_naming_its_field(
    given: dict[str, object], field: str, says: str
) -> None:
    with pytest.raises(pulse.PulseError) as refused:
        pulse.parse_scores(given)
    assert refused.value.field == field
    assert str(refused.value).startswith(field)
    assert says in str(refused.value)


def test_scores_are_read_from_a_form_or_a_document() -> None:
    form = {"ship_safely": "1", "recover_quickly": " 5 ", "release_process": "3", "csrf": "x"}
    assert pulse.parse_scores(form) == {
        "ship_safely": 1,
        "recover_quickly": 5,
        "release_process": 3,
    }


def test_a_month_below_the_threshold_shows_no_count_and_no_scores() -> None:
    two = {
        "month": "2026-10",
        "answers": 2,
        "ship_safely": 9,
        "recover_quickly": 2,
        "release_process": 4,
    }
    assert pulse.summarise(two) == {
        "month": "2026-10", "answers": None, "means": None, "overall": None, "reason": pulse.TOO_FEW,
    }  # fmt: skip
    # Three answers summing 9, 12 and 11: means 3, 4 and 11/3 = 3.67; overall 32/9 = 3.56
    three = {
        "month": "2026-10",
        "answers": 3,
        "ship_safely": 9,
        "recover_quickly": 12,
        "release_process": 11,
    }
    assert pulse.summarise(three) == {
        "month": "2026-10",
        "answers": 3,
        "means": {"ship_safely": 3.0, "recover_quickly": 4.0, "release_process": 3.67},
        "overall": 3.56,
        "reason": None,
    }


def test_an_answer_keeps_only_its_team_month_and_scores(org: Store) -> None:
    # When someone answers at 09:30 on 15 October
    kept = pulse.answer(
        org, "core", {"ship_safely": "4", "recover_quickly": "2", "release_process": "5"}, OCTOBER
    )
    # Then the row holds the team, the month and the three numbers, and a random id: no
    # time of day, no person, no link
    assert kept == {"team": "core", "month": "2026-10"}
    [row] = org.query_dicts("SELECT * FROM pulse_answers")
    assert set(row) == {"id", "team", "month", "ship_safely", "recover_quickly", "release_process"}
    assert (row["team"], row["month"], row["ship_safely"], row["recover_quickly"],
            row["release_process"]) == ("core", "2026-10", 4, 2, 5)  # fmt: skip


def test_an_answer_for_an_unknown_team_is_refused(org: Store) -> None:
    with pytest.raises(UnknownScope, match="no team named 'nosuch'"):
        _answer(org, "nosuch", OCTOBER, 3, 3, 3)
    assert org.count("pulse_answers") == 0


def test_results_per_team_and_month_hide_the_months_with_too_few(org: Store) -> None:
    # Given core: three answers in September, two in October, none in November, three in
    # December; money: one in October
    for scores in [(4, 5, 3), (2, 3, 3), (3, 4, 5)]:
        _answer(org, "core", SEPTEMBER, *scores)
    for scores in [(5, 5, 5), (1, 1, 1)]:
        _answer(org, "core", OCTOBER, *scores)
    for scores in [(5, 4, 4), (5, 5, 4), (4, 4, 2)]:
        _answer(org, "core", NOVEMBER + timedelta(days=30), *scores)
    _answer(org, "money", OCTOBER, 1, 1, 1)

    found = pulse.results(org)

    # Then each team lists every month from its first answer to its last
    core, money = found["teams"]
    assert [m["month"] for m in core["months"]] == ["2026-09", "2026-10", "2026-11", "2026-12"]
    # September: ship 4+2+3 = 9 → 3.0; recover 5+3+4 = 12 → 4.0; process 3+3+5 = 11 → 3.67;
    # overall 32/9 = 3.56
    assert core["months"][0] == {
        "month": "2026-09",
        "answers": 3,
        "means": {"ship_safely": 3.0, "recover_quickly": 4.0, "release_process": 3.67},
        "overall": 3.56,
        "reason": None,
    }
    # October (two answers) and November (none) show why, not a count or a score
    assert [m["reason"] for m in core["months"][1:3]] == [pulse.TOO_FEW, pulse.TOO_FEW]
    assert [m["answers"] for m in core["months"][1:3]] == [None, None]
    # December: ship 14/3 = 4.67, recover 13/3 = 4.33, process 10/3 = 3.33; overall 37/9 = 4.11
    assert core["months"][3]["means"] == {
        "ship_safely": 4.67, "recover_quickly": 4.33, "release_process": 3.33,
    }  # fmt: skip
    assert core["months"][3]["overall"] == 4.11
    assert money == {"team": "money", "months": [pulse.summarise(
        {"month": "2026-10", "answers": 1, "ship_safely": 1, "recover_quickly": 1, "release_process": 1}
    )]}  # fmt: skip
    # And one team's results are that team's only
    assert pulse.results(org, "money")["teams"] == [money]
    assert found["min_answers"] == 3
    assert [q["key"] for q in found["questions"]] == list(pulse.KEYS)


def test_a_link_resolves_to_its_team_until_it_expires(org: Store) -> None:
    now = datetime(2026, 10, 1, 12, tzinfo=UTC)
    made = pulse_links.create(org, "core", 14, actor="token:admin", now=now)
    code = made["code"]
    assert made["path"] == f"/pulse/{code}"
    assert len(code) == 32
    assert made["expires_at"] == "2026-10-15T12:00:00Z"
    # Only the code's digest is stored
    [row] = org.query_dicts("SELECT * FROM pulse_links")
    assert row["code_hash"] == pulse_links.digest(code)
    assert code not in str(row)
    assert pulse_links.resolve(org, code, now + timedelta(days=13, hours=23)) == "core"
    with pytest.raises(pulse_links.LinkExpired, match="expired on 2026-10-15 12:00"):
        pulse_links.resolve(org, code, now + timedelta(days=14))
    with pytest.raises(pulse_links.LinkNotFound):
        pulse_links.resolve(org, code[:-1] + ("A" if code[-1] != "A" else "B"), now)
    with pytest.raises(pulse_links.LinkNotFound):
        pulse_links.resolve(org, "../../etc", now)
    # And making it was audited, without the code
    [entry] = list(audit.entries(org, entity="pulse_link"))
    assert (entry.actor, entry.action) == ("token:admin", "create")
    assert code not in str(entry)


@pytest.mark.parametrize("days", [0, 91, -3])
def test_a_link_stays_open_one_to_ninety_days(org: Store, days: int) -> None:
    with pytest.raises(pulse.PulseError, match=f"days is {days}: a link stays open from 1 to 90"):
        pulse_links.create(org, "core", days, actor="a", now=OCTOBER)


def test_a_link_for_an_unknown_team_is_refused(org: Store) -> None:
    with pytest.raises(UnknownScope, match="no team named 'nosuch'"):
        pulse_links.create(org, "nosuch", 14, actor="a", now=OCTOBER)


def _rollout(flag: str, state: State, finished: datetime) -> Rollout:
    return Rollout(
        flag=flag,
        environment="production",
        service="api",
        plan=plan(flag=flag, service="api").to_json(),
        state=state,
        stage_index=0,
        stage_started_at=finished - timedelta(hours=2),
        started_at=finished - timedelta(hours=2),
        finished_at=finished,
        updated_at=finished,
    )


def test_the_review_shows_developer_confidence_beside_delivery(org: Store) -> None:
    # Given core's October pulse: (4, 5, 3), (2, 3, 3), (3, 4, 5) and September's (5, 5, 5) ×3
    for scores in [(4, 5, 3), (2, 3, 3), (3, 4, 5)]:
        _answer(org, "core", OCTOBER, *scores)
    for _ in range(3):
        _answer(org, "core", SEPTEMBER, 5, 5, 5)
    # money's October: two answers, too few to show
    _answer(org, "money", OCTOBER, 1, 2, 3)
    _answer(org, "money", OCTOBER, 2, 2, 2)
    # and api's rollouts finished in October: two completed, one aborted, one rolled back;
    # one completed in September (another month) does not count
    day = datetime(2026, 10, 20, 12)
    org.write([
        _rollout("a", State.COMPLETED, day), _rollout("b", State.COMPLETED, day),
        _rollout("c", State.ABORTED, day), _rollout("d", State.ROLLED_BACK, day),
        _rollout("e", State.COMPLETED, datetime(2026, 9, 20, 12)),
    ])  # fmt: skip

    doc = review.build(
        org, PRESETS["dora"], Scope(), Period(datetime(2026, 10, 1), datetime(2026, 11, 1))
    )

    section = Review.model_validate(doc).confidence.model_dump()
    core, money = section["teams"]
    assert core["team"] == "core"
    # October: ship 9/3 = 3.0, recover 12/3 = 4.0, process 11/3 = 3.67, overall 32/9 = 3.56
    assert core["pulse"]["answers"] == 3
    assert core["pulse"]["means"] == {
        "ship_safely": 3.0, "recover_quickly": 4.0, "release_process": 3.67,
    }  # fmt: skip
    assert core["pulse"]["overall"] == 3.56
    # Trend: six months to October, with scores in September (5.0) and October only;
    # the change is 3.56 - 5.0 = -1.44
    assert [t["month"] for t in core["trend"]] == [f"2026-{m:02d}" for m in range(5, 11)]
    assert [t["overall"] for t in core["trend"]] == [None, None, None, None, 5.0, 3.56]
    assert core["change"] == -1.44
    # Deployments: api's 2 in October's 31 days = 2 / (31/7) = 0.45 a week
    assert core["deployments"] == 2
    assert core["deployments_per_week"] == pytest.approx(2 / (31 / 7))
    # Rollouts: 4 finished in October: 2 completed (50 %), 1 abandoned (25 %), 1 rolled back
    assert core["rollouts"] == {
        "finished": 4, "completion_rate": 0.5, "abandon_rate": 0.25, "rollback_rate": 0.25,
    }  # fmt: skip
    # money: too few answers, no scores; one deployment; no rollout
    assert money["pulse"]["reason"] == pulse.TOO_FEW
    assert money["pulse"]["means"] is None
    assert money["deployments"] == 1
    assert money["rollouts"]["finished"] == 0

    # And the review's pages show the same
    markdown = review.render_markdown(doc)
    assert "## Developer confidence" in markdown
    assert (
        "| core | 3 | 3.00 | 4.00 | 3.67 | 3.56 (-1.44) | 05/26 – → 06/26 – → 07/26 – → "
        "08/26 – → 09/26 5.00 → 10/26 3.56 | 0.5/week (2) | 50% completed, 25% abandoned of 4 |"
    ) in markdown
    assert "| money | too few answers | – | – | – | – |" in markdown
    html = review.render_html(doc)
    assert '<h2 id="confidence">Developer confidence</h2>' in html
    assert "<td>core</td><td>3</td>" in html
