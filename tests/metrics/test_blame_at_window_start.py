"""A period's failures blame incidents as the whole store does, though the statements walk
only the deployments and incidents from the period's start on (`failure.Near`).

Hand-built history, service `web`, under `dora` with a 24-hour window:

  i4  incident opened 10-05 22:00, names d1 (before d1 finished), resolved 10-06 20:00
  d0  deployment finished 10-05 23:00 (before the period)
  i1  incident opened 10-06 01:00, names nothing: 2 h after d0 → blamed on d0, not d1
  d1  deployment finished 10-06 12:00
  i2  incident opened 10-06 13:00, names nothing: 1 h after d1 → blamed on d1, resolved 15:00

Over 2026-10-06 alone: one counted deployment, d1, failed by i2 and by i4, first fixed when
i2 was resolved: recovery 15:00 − 12:00 = 3 h = 10800 s. i1 stays with d0, outside.
"""

from __future__ import annotations

from datetime import datetime

import pytest

from headway.config import Settings
from headway.definitions import PRESETS, AttributionRules
from headway.ingest import ingest
from headway.metrics import dora, records
from headway.metrics.refine import Refinement
from headway.metrics.scope import Period, Scope
from headway.sources.files import parse_record
from headway.store import Store
from tests.metrics.test_presets import _d, _i

DORA_24H = PRESETS["dora"].model_copy(update={"attribution": AttributionRules(window_hours=24)})
OCTOBER_6 = Period(datetime(2026, 10, 6), datetime(2026, 10, 7))
RECORDS = [
    {"type": "service", "name": "web", "team": "shop", "context": "customer-facing"},
    _i("i4", "2026-10-05T22:00:00Z", "2026-10-06T20:00:00Z", cause="t:d1"),
    _d("d0", "2026-10-05T22:50:00Z", "2026-10-05T23:00:00Z"),
    _i("i1", "2026-10-06T01:00:00Z", "2026-10-06T02:00:00Z"),
    _d("d1", "2026-10-06T11:50:00Z", "2026-10-06T12:00:00Z"),
    _i("i2", "2026-10-06T13:00:00Z", "2026-10-06T15:00:00Z"),
]


@pytest.fixture
def hand_built(store: Store, engine_settings: Settings) -> Store:
    ingest(store, engine_settings, (parse_record(r, "test") for r in RECORDS))
    return store


def test_the_period_fails_only_its_own_deployments(hand_built: Store) -> None:
    m = dora.compute(hand_built, DORA_24H, Scope("service", "web"), OCTOBER_6, by="week")
    assert m.deployment_frequency["deployments"] == 1  # d1
    assert m.change_fail_rate["failed"] == 1  # d1; i1 is d0's
    assert m.failed_deployment_recovery_time["median_s"] == 10800.0  # i2 resolved 3 h after
    assert m.trend[0].change_fail_rate["failed"] == 1


def test_the_records_list_every_piece_of_evidence(hand_built: Store) -> None:
    [d1] = records.deployments(hand_built, DORA_24H, Scope("service", "web"), OCTOBER_6)
    # i4 opened before the period and before d1 finished, and names it: still its evidence
    assert [(e["rule"], e["record"]) for e in d1["evidence"]] == [
        ("incident", "t:i2"),
        ("incident", "t:i4"),
    ]
    assert d1["recovered_at"] == "2026-10-06T15:00:00Z"
    failed = records.deployments(
        hand_built, DORA_24H, Scope("service", "web"), OCTOBER_6, refine=Refinement("failed")
    )
    assert [d["id"] for d in failed] == [d1["id"]]
