"""Schemathesis over the whole OpenAPI document of a live server, on each engine.

Every operation is called with generated requests, valid and invalid by the document, with
the credential it takes (an admin token, or the SDK keys of `production`), and every check
runs: no answer is a 5xx, a request the document allows is not refused, one it forbids is
not accepted, and each answer has a documented status, content type, headers and schema.
The rules a schema cannot state are listed in schemathesis.toml and fuzz_hooks.py.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.security.conftest import Server

HERE = Path(__file__).parent
ROOT = HERE.parents[1]
# A fixed seed: the same requests on every run, so a failure is reproducible and a pass is
# not luck. Five cases per operation and phase keep both engines within about three minutes.
SEED = 20261206
EXAMPLES = 5

pytestmark = pytest.mark.slow


CHECKOUT = {  # the flag schemathesis.toml names in half the paths that take a key
    "key": "checkout",
    "type": "boolean",
    "owner": "team-payments",
    "variants": [{"key": "on", "value": True}, {"key": "off", "value": False}],
}


def test_schemathesis_finds_nothing(live: Server, tmp_path: Path) -> None:
    with live.client(live.admin) as http:
        created = http.post("/api/flags", json=CHECKOUT)
        assert created.status_code in (201, 409), created.text  # 409: made by a test before
    env = {
        **os.environ,
        "FUZZ_ADMIN": live.admin,
        "FUZZ_SERVER": live.server_key,
        "FUZZ_CLIENT": live.client_key,
        "SCHEMATHESIS_HOOKS": "tests.security.fuzz_hooks",
        "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
    }
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "schemathesis.cli",
            "--no-color",
            "--config-file",
            str(HERE / "schemathesis.toml"),
            "run",
            f"{live.url}/openapi.json",
            "--checks",
            "all",
            "--max-examples",
            str(EXAMPLES),
            "--seed",
            str(SEED),
            "--workers",
            "1",
        ],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, done.stdout[-20_000:] + done.stderr[-5_000:]
    # every operation of the document was called, none skipped
    selected = re.search(r"Selected: (\d+)/(\d+)\s+Tested: (\d+)", done.stdout)
    assert selected, done.stdout[-3_000:]
    assert len(set(selected.groups())) == 1, selected.group(0)
