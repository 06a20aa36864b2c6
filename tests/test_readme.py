"""The README and the flags guide's tour, run as a newcomer runs them: every command, in order,
on a fresh machine's store, with the figures they show checked against what is printed.

How a page becomes steps:

- ```sh blocks: each line is a command; ```console blocks: each `$ ` line is a command (a
  line ending in `\\` continues on the next), and the lines after it, up to the next `$ `,
  are the output the page shows for it; ```python blocks: one program, run as `python -c`.
- Installing is the one thing skipped, since the test runs inside the environment the install
  made: in a `&&` chain, the parts that make or enter a virtual environment (`python3 -m venv`,
  `. .venv/bin/activate`, `source …`) or run `pip install` are left out and the rest runs.
  `bash scripts/test.sh` is this suite itself, so it is not run from inside it either.
- Commands run in a fresh temporary folder, one after another, in one shell's state: what an
  `export` or `unset` sets carries to the next command, as in a terminal. HEADWAY_* variables
  of the machine running the tests are cleared first, so every store is a file in that folder.
  `headway` and `python` run this checkout's code.
- `headway serve` runs in the background (the page says to run it in a second terminal) and
  is stopped at the end. Its port is the one thing changed: another server on the machine may
  hold 8000, so a free port replaces it, in the server's command and wherever 127.0.0.1:8000
  appears later.
- A command written with `…` stands for a line an earlier command printed (the page cannot
  know the secret a server makes): the printed line that starts with the text before the `…`
  is run instead.

Each command must exit 0. The output a page shows is checked line by line: each line must
appear in what the command printed (compared word by word, table borders ignored, a `…`
standing for anything), except lines holding a date (the demo's dates are the reader's, and
so are its months) and JSON (printed one field per line, shown in a paragraph).
"""

from __future__ import annotations

import getpass
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from tests.conftest import FIXTURES, free_port

ROOT = Path(__file__).resolve().parents[1]
DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
BORDERS = re.compile(r"[│┃┏┓┗┛┡┩┢┪━─┳┻╇╈┯┷┠┨┼┬┴├┤└┘┌┐]")
INSTALL = (
    re.compile(r"^python3? -m venv\b"),
    re.compile(r"^(\.|source) \S*activate$"),
    re.compile(r"^(python3? -m )?pip install\b"),
)
SECONDS = re.compile(r"\b\d+(\.\d+)? s\b")
THE_SUITE = "bash scripts/test.sh"


@dataclass
class Step:
    kind: str  # "shell" or "python"
    text: str
    shown: list[str] = field(default_factory=list)

    @property
    def refused(self) -> bool:
        """The page shows the command refused: it must exit 2 with that error."""
        return bool(self.shown) and self.shown[0].startswith("error:")


def steps(markdown: str, languages: tuple[str, ...]) -> Iterator[Step]:
    """The page's commands in order, with the output it shows for each."""
    for language, body in re.findall(r"^```(\w+)\n(.*?)^```", markdown, re.S | re.M):
        if language not in languages:
            continue
        if language == "python":
            yield Step("python", body)
            continue
        lines = body.splitlines()
        current: Step | None = None
        while lines:
            line = lines.pop(0)
            if language == "console" and not line.startswith("$ "):
                if current is not None:
                    current.shown.append(line)
                continue
            command = line.removeprefix("$ ")
            while command.endswith("\\") and lines:
                command = command[:-1] + " " + lines.pop(0).strip()
            if current is not None:
                yield current
            current = Step("shell", command.strip())
        if current is not None:
            yield current


def runnable(command: str) -> str:
    """The command without its install steps (see the module docstring); '' if none is left."""
    if command.strip() == THE_SUITE:
        return ""
    kept = [p.strip() for p in command.split("&&")]
    return " && ".join(p for p in kept if not any(rule.match(p) for rule in INSTALL))


def words(line: str) -> str:
    """The line's words, table borders dropped and the seconds a command took (`in 0.4 s`)
    made alike: no page can know how fast the reader's machine is."""
    return " ".join(SECONDS.sub("N s", BORDERS.sub(" ", line)).split())


def shows(printed: str, line: str) -> bool:
    """Whether `line` (as a page shows it) is on one line of `printed`, word by word, table
    borders ignored; a `…` in it stands for anything."""
    pattern = re.compile(".*".join(re.escape(part) for part in words(line).split("…")))
    return any(pattern.search(words(candidate)) for candidate in printed.splitlines())


class Terminal:
    """One shell's state, carried from command to command, and the servers started from it."""

    def __init__(self, folder: Path, paths: dict[str, str] | None = None) -> None:
        self.folder = folder
        self.paths = paths or {}  # a path the page names -> where this run keeps it
        bin_dir = folder / ".bin"
        bin_dir.mkdir()
        for name, run in (("headway", "-m headway"), ("python", ""), ("python3", "")):
            shim = bin_dir / name
            shim.write_text(f'#!/bin/sh\nexec {shlex.quote(sys.executable)} {run} "$@"\n')
            shim.chmod(0o755)
        env = {k: v for k, v in os.environ.items() if not k.startswith("HEADWAY_")}
        env["PATH"] = f"{bin_dir}:{env['PATH']}"
        env["PYTHONPATH"] = os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")])
        env["COLUMNS"] = "300"  # the pages show unwrapped lines
        env["HEADWAY_STRICT_RESULTS"] = "1"
        self.state = folder / ".state"
        self.state.write_text(
            "".join(f"export {k}={shlex.quote(v)}\n" for k, v in sorted(env.items()))
        )
        self.printed: list[str] = []
        self.servers: list[tuple[subprocess.Popen[bytes], Path]] = []
        self.port = free_port()

    def run(self, step: Step) -> str:
        command = step.text.replace("127.0.0.1:8000", f"127.0.0.1:{self.port}")
        for named, kept in self.paths.items():
            command = command.replace(named, kept)
        if step.kind == "python":
            command = f"python -c {shlex.quote(step.text)}"
        elif "…" in command:
            command = self._printed_line(command)
        if re.match(r"^headway serve\b", command):
            return self._serve(command + f" --port {self.port}")
        script = f"set -eo pipefail\n. {self.state}\n{command}\nexport -p > {self.state}.next\n"
        done = subprocess.run(
            ["bash", "-c", script],
            cwd=self.folder,
            capture_output=True,
            text=True,
            timeout=300,
            env={"PATH": os.environ["PATH"]},
        )
        expected = 2 if step.refused else 0
        assert done.returncode == expected, f"{command}\n{done.stdout}\n{done.stderr}"
        if not step.refused:  # a refused command changes no shell state
            Path(f"{self.state}.next").replace(self.state)
        self.printed.append(done.stdout + done.stderr)
        return done.stdout + done.stderr

    def _printed_line(self, command: str) -> str:
        head = command.split("…")[0].split("#")[0].strip()
        for output in reversed(self.printed):
            for line in output.splitlines():
                if line.startswith(head):
                    return line
        raise AssertionError(f"no earlier command printed a line like {command!r}")

    def _serve(self, command: str) -> str:
        log = self.folder / f".serve-{len(self.servers)}.log"
        script = f". {self.state}\nexec {command} > {log} 2>&1\n"
        server = subprocess.Popen(
            ["bash", "-c", script], cwd=self.folder, env={"PATH": os.environ["PATH"]}
        )
        self.servers.append((server, log))
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            assert server.poll() is None, log.read_text()
            try:
                if httpx.get(f"http://127.0.0.1:{self.port}/healthz", timeout=1).is_success:
                    break
            except httpx.HTTPError:
                time.sleep(0.2)
        else:
            raise AssertionError(f"headway serve did not answer:\n{log.read_text()}")
        self.printed.append(log.read_text())
        return self.printed[-1]

    def close(self) -> None:
        for server, _ in self.servers:
            server.terminate()
            server.wait(30)


def follow(
    page: Path, tmp_path: Path, languages: tuple[str, ...], paths: dict[str, str] | None = None
) -> Terminal:
    """Run every step of `page` in a fresh terminal; check what each prints."""
    terminal = Terminal(tmp_path, paths)
    try:
        for step in steps(page.read_text(), languages):
            if step.kind == "shell":
                step.text = runnable(step.text)
                if not step.text:
                    continue
            printed = terminal.run(step)
            assert "Traceback" not in printed, printed
            if printed.lstrip()[:1] in ("[", "{"):
                continue  # JSON: one field a line, which a page shows as a paragraph
            for line in step.shown:
                if not line.strip("… ") or DATE.search(line):
                    continue
                line = line.replace("127.0.0.1:8000", f"127.0.0.1:{terminal.port}")
                assert shows(printed, line), f"{step.text}\nshows {line!r}\nprinted:\n{printed}"
    except BaseException:
        terminal.close()
        raise
    return terminal


def test_install_steps_are_recognised_and_nothing_else() -> None:
    chain = "python3 -m venv .venv && . .venv/bin/activate && pip install -r x -e . && headway demo"
    assert runnable(chain) == "headway demo"
    assert runnable("bash scripts/test.sh") == ""
    assert runnable("headway flags create pip-install") == "headway flags create pip-install"
    assert runnable("source .venv/bin/activate") == ""


@pytest.mark.slow
def test_every_command_of_the_readme_runs_as_written(tmp_path: Path) -> None:
    readme = ROOT / "README.md"
    shell = [s.text for s in steps(readme.read_text(), ("console", "sh")) if s.kind == "shell"]
    # the page holds what the issue asks a newcomer to be able to follow
    assert shell[0].startswith("python3 -m venv .venv && . .venv/bin/activate && pip install")
    assert shell[1] == THE_SUITE
    assert 'headway definitions set dora --reason "back to the DORA wording"' in shell
    assert any(c.startswith("headway rollout start new-checkout") for c in shell)
    terminal = follow(readme, tmp_path, ("console", "sh", "python"))
    try:
        # the demo kept to its own store; the default store was never made
        assert (tmp_path / ".headway" / "demo.duckdb").exists()
        assert not (tmp_path / ".headway" / "headway.duckdb").exists()
        # the SDK evaluated the flag, switched on and serving off, through the server
        assert any("new-checkout for user-1: False" in p for p in terminal.printed)
        # the rollout's evidence belongs to the flag's service, and every change made through
        # the server is recorded as its token, never as an account of this machine
        audit = terminal.run(Step("shell", "headway audit export"))
        entries = [json.loads(line) for line in audit.splitlines()]
        rollout = [e["actor"] for e in entries if e["entity"] == "rollout"]
        assert rollout == ["token:bootstrap"]
        assert getpass.getuser() not in {e["actor"] for e in entries}
        status = terminal.run(Step("shell", "headway rollout status new-checkout --json"))
        assert '"service": "checkout"' in status
    finally:
        terminal.close()


@pytest.mark.slow
def test_the_flags_tour_starts_with_the_path_that_works(tmp_path: Path) -> None:
    guide = ROOT / "docs" / "flags.md"
    tour = guide.read_text().split("## Five-minute tour")[1].split("\n## ")[0]
    first = next(steps(tour, ("console",)))
    # the first admin token comes from the server, so the tour starts it
    assert first.text.startswith("headway serve")
    (tmp_path / "tour.md").write_text(tour)
    terminal = follow(tmp_path / "tour.md", tmp_path, ("console",))
    terminal.close()


@pytest.mark.slow
def test_the_import_pages_run_as_written(tmp_path: Path) -> None:
    # Given what the pages start from: a folder `events/` of CDEvents (the specification's
    # conformance examples) and `shop`, the repository of 5,000 commits and 50 releases that
    # bench/git_import.py builds (the page builds the same one again as /tmp/example, kept in
    # this test's folder instead)
    cdevents, git = tmp_path / "cdevents", tmp_path / "git"
    cdevents.mkdir()
    git.mkdir()
    shutil.copytree(FIXTURES / "cdevents" / "conformance", cdevents / "events")
    (git / "bench").symlink_to(ROOT / "bench")
    sys.path.insert(0, str(ROOT / "bench"))
    try:
        from git_import import build  # type: ignore[import-not-found]
    finally:
        sys.path.remove(str(ROOT / "bench"))
    build(git / "shop", 5000, 50)
    # when each page's commands run as written, each prints what the page shows
    follow(ROOT / "docs" / "cdevents.md", cdevents, ("console",)).close()
    example = {"/tmp/example": str(git / "example")}
    terminal = follow(ROOT / "docs" / "git-import.md", git, ("console",), example)
    terminal.close()
    # and the second import of the same repository found nothing new
    assert "Written: nothing new." in terminal.printed[-2]


SAMPLES = """
from headway.config import get_settings
from headway.flags.service import FlagService
from headway.rollouts.controller import RolloutService
from headway.store import open_store

store = open_store(get_settings())
sample = {"flag": "new-checkout", "variant": "on", "metric": "errors", "n": 14, "total": 14}
RolloutService(store, FlagService(store)).ingest("production", [{**sample, "sumsq": 14}])
store.close()
"""


@pytest.mark.slow
def test_the_rollout_refusals_are_the_ones_the_page_shows(tmp_path: Path) -> None:
    # Given the page's situation: team web's two services, the flag new-checkout (owned by web,
    # released to checkout's users) serving 10 % `on` in staging and `off` in production,
    # where `errors` samples have arrived, and other-flag, owned by web alone and on
    (tmp_path / "services.jsonl").write_text(
        '{"type": "service", "name": "checkout", "team": "web"}\n'
        '{"type": "service", "name": "storefront", "team": "web"}\n'
    )
    given = [
        Step("shell", "headway import jsonl services.jsonl"),
        Step("shell", "headway flags create new-checkout --owner web --service checkout"),
        Step("shell", "headway flags create other-flag --owner web"),
        Step("shell", "headway flags set other-flag --env production --on --default off"),
        Step("shell", "headway flags set new-checkout --env staging --on"),
        Step("shell", "headway flags split new-checkout on=10 off=90 --env staging"),
        Step("shell", "headway flags set new-checkout --env production --on --default off"),
        Step("python", SAMPLES),
    ]
    page = (ROOT / "docs" / "rollouts.md").read_text()
    shown = page.split("Bad requests are refused before anything changes")[1].split("## Stages")[0]
    written = list(steps(shown, ("console",)))
    assert [step.refused for step in written] == [True, True, True, False, True, True, True]
    terminal = Terminal(tmp_path)
    try:
        for step in given:
            terminal.run(step)
        # when each start runs as written, the one that starts prints the plan and the others
        # exit 2 with the page's error
        for step in written:
            printed = terminal.run(step)
            assert shows(printed, step.shown[0]), f"{step.text}\nprinted:\n{printed}"
    finally:
        terminal.close()
