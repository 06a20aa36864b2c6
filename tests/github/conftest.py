"""The fake GitHub every test of the app talks to: one per module, reset before each test."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from tests.github.fake_github import State, serve


@pytest.fixture(scope="module")
def fake() -> Iterator[tuple[State, str]]:
    state = State()
    with serve(state) as url:
        yield state, url


@pytest.fixture
def state(fake: tuple[State, str]) -> State:
    fake[0].codes = {"good-code"}
    fake[0].limited = 0
    fake[0].reset_in = 30
    fake[0].clock = lambda: datetime.now(UTC)
    fake[0].check_runs.clear()
    fake[0].pull_files.clear()
    fake[0].items = 250
    fake[0].requests.clear()
    return fake[0]


@pytest.fixture
def url(fake: tuple[State, str]) -> str:
    return fake[1]
