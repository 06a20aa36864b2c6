"""Shared fixtures: a fresh store on each engine, isolated settings, the simulated organisation."""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest

from headway.config import Settings, get_settings
from headway.store import Store, open_store

# Result models refuse fields they do not declare while the tests run (production drops them
# instead), so a producer that grows a field without its model fails here, not in a user's
# hands; servers started by tests inherit it.
os.environ["HEADWAY_STRICT_RESULTS"] = "1"
# pytest-xdist gives its workers COLUMNS=80 and LINES=24, and the command line's consoles,
# made when a test module imports headway.cli, would keep that width for good; without them a
# console reads the width each test sets (COLUMNS=200, below) when it prints.
for _size in ("COLUMNS", "LINES"):
    os.environ.pop(_size, None)

PG_URL = os.environ.get("HEADWAY_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/test")
# Payloads the tests need, copied with their licences (tests/fixtures/PROVENANCE.md).
FIXTURES = Path(__file__).resolve().parent / "fixtures"
# Whole-history git bundles of real projects: too large to copy, read from the shared folder
# next to the checkout (only the tests over them do).
REPOS = Path(__file__).resolve().parents[2] / "shared" / "fixtures" / "repos"


def _postgres_reachable() -> bool:
    try:
        psycopg.connect(PG_URL, connect_timeout=3).close()
    except psycopg.OperationalError:
        return False
    return True


@pytest.hookimpl(tryfirst=True, optionalhook=True)
def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> Any:
    """Under `--dist loadfile` a test file runs whole in one process, and tests/engines runs
    whole in one: its files share a Spark session (a JVM of its own) and the organisations they
    load, which a second process would start and load again."""
    if config.getvalue("dist") != "loadfile":
        return None
    from xdist.scheduler import LoadScopeScheduling

    class FilesAndEngines(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            path = nodeid.split("::", 1)[0]
            return "tests/engines" if path.startswith("tests/engines/") else path

    return FilesAndEngines(config, log)


@pytest.fixture(scope="session")
def postgres_url() -> str:
    """The PostgreSQL server for tests. On CI its absence is a failure, never a skip."""
    if not _postgres_reachable():
        if os.environ.get("CI") == "true":
            pytest.fail(
                f"PostgreSQL is not reachable at {PG_URL}; CI must run the PostgreSQL tests"
            )
        pytest.skip(f"PostgreSQL is not reachable at {PG_URL}")
    return PG_URL


@pytest.fixture
def pg_schema_url(postgres_url: str) -> Iterator[str]:
    """A database URL whose search_path is a fresh schema, dropped afterwards."""
    schema = f"t_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(postgres_url, autocommit=True) as con:
        con.execute(f"CREATE SCHEMA {schema}")
    sep = "&" if "?" in postgres_url else "?"
    yield f"{postgres_url}{sep}options=-csearch_path%3D{schema}"
    with psycopg.connect(postgres_url, autocommit=True) as con:
        con.execute(f"DROP SCHEMA {schema} CASCADE")


@pytest.fixture(autouse=True)
def _isolated_settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Every test gets its own embedded store path and no server address."""
    monkeypatch.setenv("HEADWAY_DATABASE", str(tmp_path / "headway.duckdb"))
    monkeypatch.delenv("HEADWAY_URL", raising=False)
    monkeypatch.setenv("COLUMNS", "200")
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


@pytest.fixture(params=["duckdb", pytest.param("postgres", marks=pytest.mark.postgres)])
def engine_settings(request: pytest.FixtureRequest, tmp_path: Path) -> Settings:
    """Settings for a fresh store on each engine in turn."""
    if request.param == "duckdb":
        return Settings(database=str(tmp_path / "engine.duckdb"))
    url = request.getfixturevalue("pg_schema_url")
    return Settings(database=url)


@pytest.fixture
def store(engine_settings: Settings) -> Iterator[Store]:
    s = open_store(engine_settings)
    yield s
    s.close()


class OwnPostgres:
    """A PostgreSQL server a test runs itself, to stop and start it (a store outage).

    It runs from this machine's binaries (/usr/lib/postgresql/*/bin), on a free loopback
    port, with its data in a temporary folder. PostgreSQL refuses to run as root, so under
    root it runs as the `postgres` OS user; otherwise as the current user.
    """

    def __init__(self, bin_dir: Path) -> None:
        self.bin = bin_dir
        self.port = free_port()
        self.folder = Path(tempfile.mkdtemp(prefix="headway-pg-"))
        self.data = self.folder / "data"
        self._as: list[str] = []
        if os.geteuid() == 0:
            self._as = ["runuser", "-u", "postgres", "--"]
            user = pwd.getpwnam("postgres")
            os.chown(self.folder, user.pw_uid, user.pw_gid)
        self.url = f"postgresql://postgres@127.0.0.1:{self.port}/postgres"
        self._run("initdb", "-D", str(self.data), "-U", "postgres", "--auth=trust", "-N")

    def _run(self, program: str, *args: str) -> None:
        done = subprocess.run(
            [*self._as, str(self.bin / program), *args],
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert done.returncode == 0, f"{program} failed:\n{done.stdout}{done.stderr}"

    def start(self) -> None:
        options = f"-p {self.port} -k {self.folder} -c listen_addresses=127.0.0.1"
        log = str(self.folder / "server.log")
        self._run("pg_ctl", "-D", str(self.data), "-l", log, "-o", options, "-w", "start")

    def stop(self) -> None:
        """Stop it as an operator restarting it would (fast: sessions are ended)."""
        self._run("pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "stop")

    def remove(self) -> None:
        subprocess.run(
            [*self._as, str(self.bin / "pg_ctl"), "-D", str(self.data), "-m", "immediate", "stop"],
            capture_output=True,
            timeout=60,
        )
        shutil.rmtree(self.folder, ignore_errors=True)


@pytest.fixture
def own_postgres() -> Iterator[OwnPostgres]:
    """A started PostgreSQL of the test's own. On CI its absence is a failure, never a skip."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    if not found:
        if os.environ.get("CI") == "true":
            pytest.fail("no PostgreSQL server binaries in /usr/lib/postgresql/*/bin on CI")
        pytest.skip("no PostgreSQL server binaries in /usr/lib/postgresql/*/bin")
    server = OwnPostgres(Path(found[-1]).parent)
    try:
        server.start()
        yield server
    finally:
        server.remove()


def free_port() -> int:
    """A loopback port nobody listens on now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_until_serving(url: str, seconds: float = 60.0) -> None:
    """Poll `url`/healthz until the server answers 200; fail the test if it never does."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise AssertionError(f"{url} did not answer /healthz within {seconds:.0f} s")


@contextmanager
def serving(env: dict[str, str], cwd: Path | None = None) -> Iterator[str]:
    """`headway serve` on a free port in a process of its own, with `env` (and in `cwd`); its
    URL once it answers, and the server stopped after."""
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "headway", "serve", "--port", str(port), "--log-level", "warning"],
        env=env,
        cwd=cwd,
    )
    try:
        url = f"http://127.0.0.1:{port}"
        wait_until_serving(url)
        yield url
    finally:
        server.terminate()
        server.wait(30)


def authorize(client: Any, kind: str = "viewer") -> str:
    """Make `client` (a TestClient of a started app) send a new token of `kind`, as every
    route but /healthz, the webhooks and the SDK routes needs one; returns its secret."""
    _, secret = client.app.state.tokens.create(kind, name=f"test-{kind}", actor="test")
    client.headers["Authorization"] = f"Bearer {secret}"
    return str(secret)


def run_headway(
    *args: str, env: dict[str, str], cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    """`headway ARGS` as a user runs it, in a process of its own (in `cwd`), output captured."""
    return subprocess.run(
        [sys.executable, "-m", "headway", *args],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
    )


def make_token(env: dict[str, str], kind: str, environment: str | None = None) -> str:
    """A new token of `kind` made with the CLI on the store `env` names; its secret."""
    args = ["tokens", "create", "--kind", kind, "--name", f"{kind}-key"]
    if environment:
        args += ["--env", environment]
    done = run_headway(*args, env=env)
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout.strip().splitlines()[-1]  # the secret is printed alone, last


def assert_every_verdict_has_evidence(deployments: list[dict[str, Any]]) -> dict[str, int]:
    """Every failed, recovered or rework deployment names the records that made it so (the
    `list deployments` document); returns how many of each were checked."""
    seen = {"failed": 0, "recovered": 0, "rework": 0}
    for d in deployments:
        if d["failed"]:
            seen["failed"] += 1
            assert d["evidence"], f"{d['id']} failed with no evidence"
            assert all(e["rule"] and e["record"] for e in d["evidence"]), d
        else:
            assert not d["evidence"], d
        if d["recovered_at"]:
            seen["recovered"] += 1
            assert d["recovered_by"], f"{d['id']} recovered by nothing named"
            first = min((e["fixed_at"], e["fixed_by"]) for e in d["evidence"] if e["fixed_at"])
            assert (d["recovered_at"], d["recovered_by"]) == first, d
        if d["rework"]:
            seen["rework"] += 1
            assert d["rework_evidence"], f"{d['id']} is rework with no evidence"
            assert all(e["rule"] and e["record"] for e in d["rework_evidence"]), d
        else:
            assert not d["rework_evidence"], d
    return seen
