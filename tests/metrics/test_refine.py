"""Lists of records sorted, filtered and searched in the store, the same on both engines.

The small organisation of tests/web/conftest.py: deployments d1 (api, 5 Oct), d2 (api,
6 Oct), d3 (ledger, 19 Oct), none failed; change c1 (api) shipped by d1.
"""

from __future__ import annotations

from datetime import datetime

import pytest

from headway.config import Settings
from headway.definitions import PRESETS
from headway.ingest import ingest
from headway.metrics import records
from headway.metrics.dora import Period, Scope
from headway.metrics.refine import RefineError, Refinement
from headway.sources.files import parse_record
from headway.store import Store
from tests.web.conftest import RECORDS

OCTOBER = Period(datetime(2026, 10, 1), datetime(2026, 11, 1))
DORA = PRESETS["dora"]


@pytest.fixture
def small(store: Store, engine_settings: Settings) -> Store:
    ingest(store, engine_settings, (parse_record(r, "t") for r in RECORDS))
    return store


def _ids(rows: list[dict[str, object]]) -> list[object]:
    return [r["id"] for r in rows]


def test_sorting_puts_ties_in_the_lists_own_order(small: Store) -> None:
    by_service = Refinement(sort="service", desc=True)
    rows = records.deployments(small, DORA, Scope(), OCTOBER, refine=by_service)
    assert _ids(rows) == ["t:d3", "t:d1", "t:d2"]  # ledger, then api's two in time order
    newest = records.deployments(small, DORA, Scope(), OCTOBER, refine=Refinement(desc=True))
    assert _ids(newest) == ["t:d3", "t:d2", "t:d1"]


def test_filters_and_search_are_counted_and_paged(small: Store) -> None:
    failed = Refinement(only="failed", sort="recovered_at")
    assert records.deployments(small, DORA, Scope(), OCTOBER, refine=failed) == []
    assert records.total(small, "deployments", DORA, Scope(), OCTOBER, failed) == 0
    assert records.total(small, "deployments", DORA, Scope(), OCTOBER, Refinement("rework")) == 0
    assert (
        records.total(small, "deployments", DORA, Scope(), OCTOBER, Refinement(sort="failed")) == 3
    )
    api = Refinement(search="API")  # case-blind
    assert records.total(small, "deployments", DORA, Scope(), OCTOBER, api) == 2
    page = records.deployments(small, DORA, Scope(), OCTOBER, 1, 1, api)
    assert _ids(page) == ["t:d2"]
    shipped = records.changes(small, DORA, Scope(), OCTOBER, refine=Refinement(only="shipped"))
    assert _ids(shipped) == ["t:c1"]
    by_deployment = Refinement(search="t:d1")
    assert _ids(records.changes(small, DORA, Scope(), OCTOBER, refine=by_deployment)) == ["t:c1"]
    assert (
        records.incidents(small, DORA, Scope(), OCTOBER, refine=Refinement(only="attributed")) == []
    )


def test_a_search_is_text_not_a_pattern(small: Store) -> None:
    # `%` and `_` match themselves, not anything: no deployment id holds them
    for needle in ("%", "_", "\\"):
        assert (
            records.total(small, "deployments", DORA, Scope(), OCTOBER, Refinement(search=needle))
            == 0
        )


def test_an_unknown_column_or_filter_names_the_known_ones(small: Store) -> None:
    with pytest.raises(RefineError, match="sort must be one of finished_at, service"):
        records.deployments(small, DORA, Scope(), OCTOBER, refine=Refinement(sort="id; DROP"))
    with pytest.raises(RefineError, match="only must be one of attributed, unattributed"):
        records.incidents(small, DORA, Scope(), OCTOBER, refine=Refinement(only="failed"))
