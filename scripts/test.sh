#!/usr/bin/env bash
# Headway's whole test suite, from a clean checkout on a machine with Python and pip.
# Installs the locked dependencies and Headway itself, Debian's chromium for the browser
# tests, the pinned npm OpenFeature clients, then runs pytest. PostgreSQL tests need the
# server at 127.0.0.1:5432; with CI=true they fail, rather than skip, when it is unreachable.
set -euo pipefail
cd "$(dirname "$0")/.."
python -m pip install --quiet --disable-pip-version-check -r requirements-dev.lock
# Commit messages are checked as they are written (scripts/check_commit_msg.py).
git config core.hooksPath .githooks 2>/dev/null || true
python -m pip install --quiet --disable-pip-version-check --no-deps -e .
if [ -f scripts/install-browser.sh ]; then
  bash scripts/install-browser.sh
fi
# A Java runtime for the Spark engine tests (tests/engines).
sh scripts/install-java.sh
# The npm OpenFeature clients the conformance suite drives (tests/clients), pinned by lockfiles.
sh scripts/install-clients.sh
# The tests run in one process per core (pytest-xdist; HEADWAY_TEST_WORKERS overrides the
# count, 0 runs them in pytest's own process), each test file whole in one process, and
# tests/engines whole in one (tests/conftest.py), so what a file or the engines build once
# (organisations, servers, a Spark session) is built once. Arguments go to pytest; `--cov`
# prints the package's line coverage (pyproject.toml), which costs about 70-80 % more CPU.
exec python -m pytest -n "${HEADWAY_TEST_WORKERS:-auto}" --dist loadfile "$@"
