"""A definition whose failure rules leave out incidents still reads: the evidence query names
its columns in every part, not only in the incident part that used to come first."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from headway.config import Settings
from headway.definitions import PRESETS
from headway.ingest import ingest
from headway.metrics import dora, records
from headway.metrics.scope import Period, Scope
from headway.sources.files import read_jsonl
from headway.store import Store

LINES = [
    '{"type": "service", "name": "api", "team": "core", "context": "internal"}',
    '{"type": "deployment", "source": "t", "source_id": "d1", "service": "api",'
    ' "finished_at": "2026-10-01T10:00:00Z"}',
    '{"type": "deployment", "source": "t", "source_id": "d2", "service": "api",'
    ' "finished_at": "2026-10-01T11:00:00Z", "kind": "rollback", "recovers": "t:d1"}',
]


def test_a_rollback_only_definition_lists_and_counts_its_failures(
    store: Store, engine_settings: Settings, tmp_path: Path
) -> None:
    source = tmp_path / "r.jsonl"
    source.write_text("\n".join(LINES) + "\n")
    ingest(store, engine_settings, read_jsonl(source))
    dora_preset = PRESETS["dora"]
    rollback_only = dora_preset.model_copy(
        update={"failure": dora_preset.failure.model_copy(update={"rules": ("rollback",)})}
    )
    period = Period(datetime(2026, 9, 1, tzinfo=UTC), datetime(2026, 11, 1, tzinfo=UTC))
    listed = {d["id"]: d for d in records.deployments(store, rollback_only, Scope(), period)}
    failed = [i for i, d in listed.items() if d["failed"]]
    assert len(failed) == 1  # the deployment the rollback recovers, and only it
    [evidence] = listed[failed[0]]["evidence"]
    assert evidence["rule"] == "rollback"
    assert evidence["fixed_at"] == "2026-10-01T11:00:00Z"
    figures = dora.compute(store, rollback_only, Scope(), period)
    # 1 failed of the 2 deployments (the rollback counts under dora@2)
    assert (figures.change_fail_rate["failed"], figures.change_fail_rate["rate"]) == (1, 0.5)
