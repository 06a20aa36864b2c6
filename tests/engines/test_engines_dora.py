"""Every figure on every engine equals what metrics/dora.py computes on the store.

The store's engine is the oracle: the five DORA figures of the whole organisation under each
preset, and of each service, team and context under `dora`, must be equal number for number
(medians and percentiles included) on DuckDB, PostgreSQL, DuckDB over the Parquet export and
Spark over the same export.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

import pytest
from ibis.expr.types import Table

from headway.definitions import PRESETS
from headway.engines import Engine
from headway.engines import run as figures
from headway.engines.dora import FIGURES
from headway.metrics import dora
from tests.engines.conftest import CUSTOM, Organisation


def _five(metric_set: dict[str, object]) -> dict[str, object]:
    return {name: metric_set[name] for name in FIGURES}


def test_the_organisation_is_a_real_workload(organisation: Organisation) -> None:
    # the comparison means something only if every figure has numbers behind it
    dora_set = organisation.oracle["dora"]
    assert dora_set["deployment_frequency"]["deployments"] > 300
    assert dora_set["change_fail_rate"]["failed"] > 10
    assert dora_set["deployment_rework_rate"]["rework"] > 5
    for preset in PRESETS:
        recovery = organisation.oracle[preset]["failed_deployment_recovery_time"]
        assert recovery["recoveries"] > 5, preset
        assert organisation.oracle[preset]["change_lead_time"]["changes"] > 100, preset


@pytest.mark.parametrize("preset", list(PRESETS))
def test_five_figures_equal_the_metrics_engine(
    engine: Engine, organisation: Organisation, preset: str
) -> None:
    got = figures.compute(engine, PRESETS[preset], dora.Scope(), organisation.period)
    assert got == _five(organisation.oracle[preset])


@pytest.mark.parametrize("name", list(CUSTOM))
def test_rules_no_preset_uses_equal_the_metrics_engine(
    sql_engine: Engine, organisation: Organisation, name: str
) -> None:
    got = figures.compute(sql_engine, CUSTOM[name], dora.Scope(), organisation.period)
    assert got == _five(organisation.oracle[name])


def test_a_weekly_trend_equals_the_metrics_engine(
    engine: Engine, organisation: Organisation
) -> None:
    # Monday-started weeks: the bucket every engine must truncate alike
    got = figures.trend(engine, PRESETS["dora"], dora.Scope(), organisation.period, "week")
    assert len(got) == 9  # 60 days from Wednesday 2 September 2026 touch 9 Monday weeks
    assert got == [_five(m) for m in organisation.oracle["dora by week"]]


@pytest.mark.parametrize("preset", list(PRESETS))
@pytest.mark.parametrize("by", ["week", "month"])
def test_each_presets_trend_equals_the_metrics_engine(
    sql_engine: Engine, organisation: Organisation, preset: str, by: str
) -> None:
    got = figures.trend(sql_engine, PRESETS[preset], dora.Scope(), organisation.period, by)
    assert got == [_five(m) for m in organisation.oracle[f"{preset} by {by}"]]


def test_each_service_equals_the_metrics_engine(engine: Engine, organisation: Organisation) -> None:
    got = figures.compute_each(engine, PRESETS["dora"], "service", organisation.period)
    want = {name: _five(m) for name, m in organisation.oracle["each service"].items()}
    assert got == want


@pytest.mark.parametrize("kind", ["team", "context"])
def test_each_team_and_context_equal_the_metrics_engine(
    sql_engine: Engine, organisation: Organisation, kind: str
) -> None:
    # by team or context differs from by service only in the key column (not on Spark: see
    # the sql_engine fixture)
    got = figures.compute_each(sql_engine, PRESETS["dora"], kind, organisation.period)
    want = {name: _five(m) for name, m in organisation.oracle[f"each {kind}"].items()}
    assert got == want


def test_a_named_scope_is_its_services_only(sql_engine: Engine, organisation: Organisation) -> None:
    team = next(iter(organisation.oracle["each team"]))
    scope = dora.Scope("team", team)
    got = figures.compute(sql_engine, PRESETS["dora"], scope, organisation.period)
    assert got == _five(organisation.oracle["each team"][team])


def test_an_unknown_scope_names_what_is_known(engine: Engine, organisation: Organisation) -> None:
    with pytest.raises(dora.UnknownScope, match="no team named 'nosuch'"):
        figures.compute(engine, PRESETS["dora"], dora.Scope("team", "nosuch"), organisation.period)


def test_what_the_figures_share_is_computed_once_and_released(
    sql_engine: Engine, organisation: Organisation, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Under `dora` the failures read the incidents' attribution (the `incident` rule), and
    # change fail rate and recovery time both read the failures: each is kept once, by name.
    kept: list[str] = []
    real = sql_engine.keeping

    @contextmanager
    def counting() -> Iterator[Callable[[Table], Table]]:
        with real() as keep:

            def noted(table: Table) -> Table:
                kept.append(",".join(table.columns))
                return keep(table)

            yield noted

    monkeypatch.setattr(sql_engine, "keeping", counting)
    got = figures.compute(sql_engine, PRESETS["dora"], dora.Scope(), organisation.period)
    assert got == _five(organisation.oracle["dora"])
    assert kept == [
        "id,service,opened_at,resolved_at,deployment_id,cause_t",
        "failed_id,first_fix",
    ]
    # and released when the figures are done: no table is left in the session
    assert _temporary_tables(sql_engine) == []


def _temporary_tables(engine: Engine) -> list[str]:
    if engine.name == "postgres":
        sql = "SELECT relname FROM pg_class WHERE relnamespace = pg_my_temp_schema()"
    else:
        sql = "SELECT table_name FROM duckdb_tables() WHERE temporary"
    return [row[0] for row in engine.backend.con.execute(sql).fetchall()]
