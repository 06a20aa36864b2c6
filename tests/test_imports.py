"""Every module of the package imports on its own, in an interpreter that has loaded no other
Headway module first, so no module works only because another happened to be imported."""

from __future__ import annotations

import os
import pkgutil
import subprocess
import sys
from pathlib import Path

import headway

ROOT = Path(__file__).parents[1]

# The child loads the heavy third-party libraries once, then forks a process per module: each
# fork starts with no headway module loaded, which is what matters, at a fraction of the cost
# of a new interpreter per module (over 300 of them). Every library a headway module imports
# is on the list, SQLAlchemy and Ibis above all: left to the forks, they were reloaded over
# 300 times and made up about 40% of the test's time.
CHILD = """
import importlib, os, sys, traceback
for library in ("authlib", "cryptography", "dateutil", "duckdb", "fastapi", "httpx", "ibis",
                "jinja2", "jsonschema", "jwt", "limits", "numpy", "openfeature",
                "opentelemetry", "orjson", "pandas", "prometheus_client", "psycopg",
                "pyarrow", "pydantic", "pydantic_settings", "pygments", "re2", "rich",
                "scipy.stats", "sqlalchemy", "sqlalchemy.dialects.postgresql", "typer",
                "uvicorn", "xxhash"):
    importlib.import_module(library)
assert not [m for m in sys.modules if m.split(".")[0] == "headway"]
failed = []
for name in sys.argv[1:]:
    pid = os.fork()
    if pid == 0:
        try:
            importlib.import_module(name)
        except BaseException:
            traceback.print_exc()
            os._exit(1)
        os._exit(0)
    _, status = os.waitpid(pid, 0)
    if status:
        failed.append(name)
print("\\n".join(failed))
sys.exit(1 if failed else 0)
"""


def _modules() -> list[str]:
    return sorted(
        info.name
        for info in pkgutil.walk_packages(headway.__path__, "headway.")
        if info.name != "headway.__main__"  # runs the CLI when imported
    )


def test_every_module_imports_on_its_own() -> None:
    modules = _modules()
    assert "headway.cli.interpret" in modules
    done = subprocess.run(
        [sys.executable, "-c", CHILD, *modules],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    assert done.returncode == 0, f"these do not import on their own:\n{done.stdout}{done.stderr}"


def test_every_package_says_what_it_owns_and_may_import() -> None:
    packages = [
        info.name for info in pkgutil.walk_packages(headway.__path__, "headway.") if info.ispkg
    ]
    assert {"headway.cli", "headway.sources.git", "headway.metrics.results"} <= set(packages)
    for name in packages:
        doc = __import__(name, fromlist=["_"]).__doc__ or ""
        assert "Owns:" in doc, f"{name}: say what it owns in its docstring"
        assert "May import:" in doc, f"{name}: say what it may import in its docstring"


def test_no_module_is_longer_than_a_reader_can_hold() -> None:
    # About 400 lines (docs/architecture.md); those listed are still to be split.
    waiting: set[str] = set()
    long = {
        path.relative_to(ROOT).as_posix()
        for path in (ROOT / "headway").rglob("*.py")
        if len(path.read_text(encoding="utf-8").splitlines()) > 420
    }
    assert long <= waiting, f"split these modules: {sorted(long - waiting)}"
    assert waiting <= long, f"split already: take off the list {sorted(waiting - long)}"


def test_the_command_line_loads_no_web_server_or_http_client() -> None:
    # Every `headway` command starts by importing headway.cli; the server's libraries cost
    # about a third of that start-up, so only `headway serve` and the API's own modules load
    # them, and the HTTP client loads only when a command talks to a server.
    probe = (
        "import sys, headway.cli\n"
        "print(sorted({m.split('.')[0] for m in sys.modules} & {'fastapi', 'starlette', "
        "'uvicorn', 'jinja2', 'httpx'}))"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]", f"headway.cli imports {done.stdout.strip()}"
