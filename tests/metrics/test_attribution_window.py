"""`dora`'s attribution window is the one that best separates true causes in the simulator
(docs/definitions.md, "The attribution window of `dora`, measured"), measured the way
bench/attribution.py measures it, on both engines.

Hand-built history, service `web` on 2026-10-06:

  d1  deployment finished 09:00 (3 h before i1)
  d2  deployment finished 11:50 (10 min before i1)
  i1  incident opened 12:00, names nothing; d2 truly caused it
  i3  incident opened 12:30, names d1 (not counted: it needs no window)
  i2  incident opened 14:00, names nothing; no deployment caused it (a provider outage),
      2 h 10 min after d2
"""

from __future__ import annotations

import pytest

from headway.config import Settings
from headway.definitions import PRESETS, FailureRules
from headway.ingest import ingest
from headway.metrics.attribution import WINDOWS, Tally, blamed, tally, unnamed, with_window
from headway.simulate import Options, generate
from headway.sources.files import parse_record
from headway.store import Store
from tests.metrics.test_presets import _d, _i

DORA = PRESETS["dora"]


RECORDS = [
    {"type": "service", "name": "web", "team": "shop", "context": "customer-facing"},
    _d("d1", "2026-10-06T08:50:00Z", "2026-10-06T09:00:00Z"),
    _d("d2", "2026-10-06T11:40:00Z", "2026-10-06T11:50:00Z"),
    _i("i1", "2026-10-06T12:00:00Z", "2026-10-06T12:40:00Z"),
    _i("i3", "2026-10-06T12:30:00Z", "2026-10-06T13:00:00Z", cause="t:d1"),
    _i("i2", "2026-10-06T14:00:00Z", "2026-10-06T15:00:00Z"),
]
TRUTH: dict[str, str | None] = {"t:i1": "t:d2", "t:i2": None, "t:i3": "t:d1"}


@pytest.fixture
def hand_built(store: Store, engine_settings: Settings) -> Store:
    ingest(store, engine_settings, (parse_record(r, "test") for r in RECORDS))
    return store


def test_only_incidents_that_name_nothing_are_scored() -> None:
    # i3 names d1: no window decides its blame
    assert unnamed(RECORDS, TRUTH) == {"t:i1": "t:d2", "t:i2": None}


@pytest.mark.parametrize(
    ("hours", "expected"),
    [
        # i1: d2 is 10 min before, outside 6 min → missed; i2: nothing within 6 min → right
        (0.1, Tally(right=1, wrong=0, missed=1)),
        # i1 → d2, its cause → right; i2: d2 is 2 h 10 min before → nothing → right
        (0.5, Tally(right=2, wrong=0, missed=0)),
        # i1 → d2 (the latest, not d1) → right; i2 → d2 (2 h 10 min ≤ 24 h) → wrong
        (24.0, Tally(right=1, wrong=1, missed=0)),
        # however long before: as 24 h
        (None, Tally(right=1, wrong=1, missed=0)),
    ],
)
def test_each_window_blames_the_hand_built_incidents_as_worked_out(
    hand_built: Store, hours: float | None, expected: Tally
) -> None:
    got = tally(hand_built, with_window(DORA, hours), unnamed(RECORDS, TRUTH))
    assert got == expected
    assert got.margin == expected.right - expected.wrong


def test_blame_is_what_the_deployments_list_shows(hand_built: Store) -> None:
    # dora's 30 min: i1 fails d2; i3 names d1 and fails it; i2 fails nothing
    assert blamed(hand_built, DORA) == {"t:i1": "t:d2", "t:i3": "t:d1"}
    # 24 h: i2 now fails d2 too
    assert blamed(hand_built, with_window(DORA, 24)) == {
        "t:i1": "t:d2",
        "t:i2": "t:d2",
        "t:i3": "t:d1",
    }


def test_a_definition_failing_no_deployment_for_incidents_is_refused(hand_built: Store) -> None:
    no_incidents = DORA.model_copy(update={"failure": FailureRules(rules=("rollback",))})
    with pytest.raises(ValueError, match=r"no `incident` failure rule.*add it to failure\.rules"):
        blamed(hand_built, no_incidents)


def test_dora_default_window_best_separates_true_causes_in_the_simulator(
    store: Store, engine_settings: Settings
) -> None:
    truth: dict[str, str | None] = {}
    generated = list(generate(Options(seed=1, services=4, days=60), causes=truth))
    ingest(store, engine_settings, (parse_record(r, "sim") for r in generated))
    causes = unnamed(generated, truth)
    assert len(causes) > 30  # enough incidents naming nothing to tell the windows apart
    margins = {w: tally(store, with_window(DORA, w), causes).margin for w in WINDOWS}
    default = DORA.attribution.window_hours
    assert default in margins
    others = [m for w, m in margins.items() if w != default]
    assert margins[default] > max(others), margins
