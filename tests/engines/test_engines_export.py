"""`headway export parquet`, and the settings that choose an engine."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest

from headway.config import Settings
from headway.definitions import PRESETS
from headway.engines import EngineError, connect
from headway.engines import run as figures
from headway.engines.connect import connected, engine_name
from headway.engines.dora import FIGURES
from headway.engines.export import export_parquet
from headway.engines.layout import MANIFEST, TABLES
from headway.metrics import dora
from tests.conftest import run_headway
from tests.engines.conftest import Organisation


def _env(database: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HEADWAY_")}
    return {**env, "HEADWAY_DATABASE": str(database)}


def test_the_export_writes_a_folder_per_table_and_a_manifest(
    organisation: Organisation, tmp_path: Path
) -> None:
    # Given the store the engine tests read (closed by now), when it is exported
    done = run_headway("export", "parquet", str(tmp_path / "out"), env=_env(organisation.duckdb))
    assert done.returncode == 0, done.stderr
    manifest = json.loads((tmp_path / "out" / "_headway.json").read_text())
    # 2 added the approvals the flow's gates are read from; 3 the pipeline runs and escaped
    # defects the friction signals read
    assert manifest["format"] == 3
    assert set(manifest["tables"]) == {
        "services",
        "deployments",
        "changes",
        "incidents",
        "approvals",
        "pipeline_runs",
        "defects",
    }
    # then each table's rows are in its folder, as many as the manifest says: 4 services
    for name, table in manifest["tables"].items():
        rows = pq.read_table(tmp_path / "out" / table["path"]).num_rows
        assert rows == table["rows"], name
    assert manifest["tables"]["services"]["rows"] == 4
    assert f"{manifest['tables']['deployments']['rows']} deployments" in done.stdout
    # and timestamps stay UTC wall-clock without a zone, as Spark reads TIMESTAMP_NTZ
    schema = pq.read_schema(tmp_path / "out" / "deployments" / "part-00000.parquet")
    assert str(schema.field("finished_at").type) == "timestamp[us]"


def test_the_export_replaces_its_own_tables_and_refuses_other_folders(
    organisation: Organisation, tmp_path: Path
) -> None:
    env = _env(organisation.duckdb)
    out = tmp_path / "out"
    assert run_headway("export", "parquet", str(out), env=env).returncode == 0
    again = run_headway("export", "parquet", str(out), env=env)
    assert again.returncode == 0, again.stderr
    assert len(list((out / "deployments").iterdir())) == 1  # replaced, not appended
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "notes.txt").write_text("keep me")
    refused = run_headway("export", "parquet", str(tmp_path / "mine"), env=env)
    assert refused.returncode == 2
    assert "not empty and holds no earlier export" in refused.stderr
    assert (tmp_path / "mine" / "notes.txt").read_text() == "keep me"


def test_the_engine_defaults_to_the_stores_own() -> None:
    assert engine_name(Settings(database="x.duckdb")) == "duckdb"
    assert engine_name(Settings(database="postgresql://h/db")) == "postgres"
    assert engine_name(Settings(database="x.duckdb", engine="spark")) == "spark"


@pytest.mark.parametrize(
    ("settings", "fix"),
    [
        (Settings(database="x.duckdb", engine="spark"), "set HEADWAY_ENGINE_PARQUET"),
        (Settings(database="x.duckdb", engine="postgres"), "postgresql:// URL"),
        (Settings(database="postgresql://h/db", engine="duckdb"), "HEADWAY_ENGINE_PARQUET"),
        (Settings(database="/nonexistent/x.duckdb"), "no such DuckDB store"),
        (Settings(database="x.duckdb", engine_parquet="/nonexistent"), "no services/ folder"),
    ],
)
def test_an_engine_that_cannot_run_names_the_setting_to_change(
    settings: Settings, fix: str
) -> None:
    with pytest.raises(EngineError, match=fix.replace(".", r"\.").replace("/", "/")):
        connect(settings)


def test_an_unknown_engine_is_refused_by_the_settings() -> None:
    with pytest.raises(ValueError, match="engine"):
        Settings(engine="oracle")  # type: ignore[arg-type]


@pytest.mark.slow
def test_a_spark_session_moves_rows_through_arrow_at_utc(spark_session: object) -> None:
    # Without Arrow (and with the fallback to it allowed) rows loaded through Ibis came
    # back with NULL doubles as NaN; week buckets agree across engines only at UTC.
    conf = spark_session.conf  # type: ignore[attr-defined]
    assert conf.get("spark.sql.execution.arrow.pyspark.enabled") == "true"
    assert conf.get("spark.sql.execution.arrow.pyspark.fallback.enabled") == "false"
    assert conf.get("spark.sql.session.timeZone") == "UTC"


@pytest.mark.postgres
def test_a_postgresql_store_exports_the_same_tables(
    organisation: Organisation, postgres_organisation: str, tmp_path: Path
) -> None:
    # Given the same records in PostgreSQL, its export (streamed through Arrow inside one
    # REPEATABLE READ transaction) holds the rows the DuckDB store's export holds
    with connected(Settings(database=postgres_organisation)) as engine:
        done = export_parquet(engine, tmp_path / "pg")
    duck = json.loads((organisation.parquet / "_headway.json").read_text())
    assert done.rows == {name: t["rows"] for name, t in duck["tables"].items()}
    for name in done.rows:
        key = "name" if name == "services" else "id"
        ours = pq.read_table(tmp_path / "pg" / name).sort_by(key)
        theirs = pq.read_table(organisation.parquet / name).sort_by(key)
        assert ours.column_names == theirs.column_names, name
        assert ours.to_pylist() == theirs.to_pylist(), name


@pytest.mark.slow
def test_a_layout_spark_writes_is_read_with_the_same_figures(
    spark_session: Any, organisation: Organisation, tmp_path: Path
) -> None:
    # Given the export read by Spark and written again by Spark, a table per folder with its
    # own part names (part-00000-<uuid>-c000.snappy.parquet), _SUCCESS and checksum files
    out = tmp_path / "from-spark"
    for name in TABLES:
        table = spark_session.read.parquet(str(organisation.parquet / name))
        table.write.parquet(str(out / name))
    shutil.copy(organisation.parquet / MANIFEST, out / MANIFEST)
    # When DuckDB reads that folder as an export
    settings = Settings(database=str(organisation.duckdb), engine_parquet=str(out))
    with connected(settings) as engine:
        got = figures.compute(engine, PRESETS["dora"], dora.Scope(), organisation.period)
    # Then the five figures are the store's own
    assert got == {name: organisation.oracle["dora"][name] for name in FIGURES}
    # and Spark kept the times as UTC wall-clock without a zone (TIMESTAMP_NTZ)
    part = next((out / "deployments").glob("*.parquet"))
    assert str(pq.read_schema(part).field("finished_at").type) == "timestamp[us]"
