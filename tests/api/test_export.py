"""`GET /api/export/parquet`: the server's store as the zipped folder `headway export parquet`
writes, on either store; the CLI through HEADWAY_URL unpacks it where the user asked."""

from __future__ import annotations

import io
import json
import os
import zipfile
from datetime import datetime
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from fastapi.testclient import TestClient

from headway.config import Settings
from headway.engines.export import unpack_export
from headway.engines.layout import TABLES
from headway.ingest import ingest
from headway.model import Approval, Change, Deployment, Incident, Service
from headway.store import Store
from tests.conftest import authorize, make_token, run_headway, serving

AT = datetime(2026, 10, 5, 12)


def _records() -> list[object]:
    """Two teams' services, three deployments, two changes, one incident and one review."""
    return [
        Service("pay", team="payments"),
        Service("web", team="web"),
        Deployment("ci", "d1", "pay", AT, sha="b"),
        Deployment("ci", "d2", "pay", AT.replace(day=6)),
        Deployment("ci", "d3", "web", AT.replace(day=7)),
        Change("git", "a", "pay", merged_at=AT.replace(day=4), merge_sha="a"),
        Change("git", "b", "pay", merged_at=AT.replace(day=4, hour=13), merge_sha="b"),
        Incident("pd", "i1", "pay", AT.replace(hour=13), resolved_at=AT.replace(hour=15)),
        Approval(
            "git", "r1", change_ref="git:a", service="pay", decided_at=AT.replace(day=4, hour=9)
        ),
    ]


EXPECTED = {
    "services": 2,
    "deployments": 3,
    "changes": 2,
    "incidents": 1,
    "approvals": 1,
    "pipeline_runs": 0,
    "defects": 0,
}


def test_a_viewer_downloads_every_table_in_one_zip(
    client: TestClient, store: Store, hook_settings: Settings, tmp_path: Path
) -> None:
    ingest(store, hook_settings, _records())
    authorize(client, "viewer")
    answer = client.get("/api/export/parquet")
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"] == "application/zip"
    packed = zipfile.ZipFile(io.BytesIO(answer.content))
    # The manifest and one part per table, nothing else
    assert sorted(packed.namelist()) == sorted(
        ["_headway.json", *(f"{t}/part-00000.parquet" for t in TABLES)]
    )
    manifest = json.loads(packed.read("_headway.json"))
    assert {t: v["rows"] for t, v in manifest["tables"].items()} == EXPECTED
    deployments = pq.read_table(io.BytesIO(packed.read("deployments/part-00000.parquet")))
    assert sorted(deployments.column("id").to_pylist()) == ["ci:d1", "ci:d2", "ci:d3"]
    # and the store can still be written once the export's snapshot closed
    ingest(store, hook_settings, [Deployment("ci", "d4", "web", AT.replace(day=8))])
    again = zipfile.ZipFile(io.BytesIO(client.get("/api/export/parquet").content))
    assert json.loads(again.read("_headway.json"))["tables"]["deployments"]["rows"] == 4


def test_the_export_needs_a_token_that_reads_every_team(
    client: TestClient, store: Store, hook_settings: Settings
) -> None:
    assert client.get("/api/export/parquet").status_code == 401
    _, secret = client.app.state.tokens.create(  # type: ignore[attr-defined]
        "viewer", name="payments", actor="test", teams=["payments"]
    )
    refused = client.get("/api/export/parquet", headers={"Authorization": f"Bearer {secret}"})
    assert refused.status_code == 403
    assert "spans every team" in refused.json()["error"]


def test_an_archive_with_other_members_is_refused(tmp_path: Path) -> None:
    # A zip that would write outside the folder, or files the layout does not name
    archive = tmp_path / "bad.zip"
    with zipfile.ZipFile(archive, "w") as packed:
        packed.writestr("_headway.json", json.dumps({"tables": {}}))
        packed.writestr("../escape.parquet", b"x")
    with pytest.raises(ValueError, match="not one Headway can read"):
        unpack_export(archive, tmp_path / "out")
    assert not (tmp_path / "escape.parquet").exists()
    assert not (tmp_path / "out").exists()


@pytest.mark.slow
def test_the_cli_exports_a_served_store_as_it_exports_a_local_one(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HEADWAY_")}
    env["HEADWAY_DATABASE"] = str(tmp_path / "store.duckdb")
    settings = Settings(database=env["HEADWAY_DATABASE"])
    from headway.store import open_store

    store = open_store(settings)
    ingest(store, settings, _records())
    store.close()
    here = run_headway("export", "parquet", "local", env=env, cwd=tmp_path)
    assert here.returncode == 0, here.stderr
    viewer = make_token(env, "viewer")
    with serving(env) as url:
        remote = {**env, "HEADWAY_URL": url, "HEADWAY_TOKEN": viewer}
        there = run_headway("export", "parquet", "remote", env=remote, cwd=tmp_path)
        # the store is held by the server, yet the export is written here, as locally
        assert there.returncode == 0, there.stderr
        assert there.stdout.replace("remote", "local") == here.stdout
        assert "Exported 9 rows to remote: 2 services, 3 deployments" in there.stdout
        for name in TABLES:
            key = "name" if name == "services" else "id"
            ours = pq.read_table(tmp_path / "remote" / name).sort_by(key).to_pylist()
            assert ours == pq.read_table(tmp_path / "local" / name).sort_by(key).to_pylist()
        # a folder of the user's own is refused before anything is downloaded
        (tmp_path / "mine").mkdir()
        (tmp_path / "mine" / "notes.txt").write_text("keep me")
        refused = run_headway("export", "parquet", "mine", env=remote, cwd=tmp_path)
        assert (refused.returncode, refused.stdout) == (2, "")
        assert "not empty and holds no earlier export" in refused.stderr
        assert (tmp_path / "mine" / "notes.txt").read_text() == "keep me"
