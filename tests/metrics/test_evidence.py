"""Every failure, recovery and rework carries its evidence: the records that made it so.

A rework deployment with empty evidence (a deployment shipping a revert, before rework named
its revert) is a defect this catches, on the simulated organisation and on a git import
(tests/sources/test_git.py::test_every_verdict_of_a_git_import_names_its_records)."""

from __future__ import annotations

from datetime import datetime

from headway.config import Settings
from headway.definitions import PRESETS
from headway.ingest import ingest
from headway.metrics import dora, records
from headway.metrics.scope import Period, Scope
from headway.simulate import Options, generate
from headway.sources.files import parse_record
from headway.store import Store
from tests.conftest import assert_every_verdict_has_evidence

SIMULATED = Period(datetime(2026, 8, 3), datetime(2026, 11, 1))  # the simulation's 90 days


def test_every_verdict_of_the_simulated_organisation_names_its_records(
    store: Store, engine_settings: Settings
) -> None:
    opts = Options(seed=7, services=4, days=90)
    ingest(store, engine_settings, (parse_record(r, "sim") for r in generate(opts)))
    for name, defn in PRESETS.items():
        deployments = records.deployments(store, defn, Scope(), SIMULATED)
        seen = assert_every_verdict_has_evidence(deployments)
        # the simulation has failures, recoveries and rework under every preset but the
        # incident-only ones' rework (rework is the same rule under all three)
        assert seen["failed"] > 10, (name, seen)
        assert seen["recovered"] > 10, (name, seen)
        assert seen["rework"] > 10, (name, seen)
        # and the metric counts the same recoveries the records name (dora: failed
        # deployment → first fix, so one recovery per recovered deployment)
        if name == "dora":
            rec = dora.compute(store, defn, Scope(), SIMULATED).failed_deployment_recovery_time
            assert rec["recoveries"] + rec["negative"] == seen["recovered"]
