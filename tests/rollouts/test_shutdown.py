"""The server's rollout controller never leaves a tick running on a closed store."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from headway.api import rollouts as rollouts_api
from headway.api.app import create_app
from headway.config import Settings
from headway.store import open_store


def test_shutdown_waits_for_the_tick_in_flight(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    started = threading.Event()
    order: list[str] = []

    def slow_tick(service: Any, plans: Any) -> None:
        started.set()
        time.sleep(0.4)
        service.tick()  # reads the store: it must still be open
        order.append("tick done")

    monkeypatch.setattr(rollouts_api, "_tick", slow_tick)
    monkeypatch.setenv("HEADWAY_ROLLOUT_INTERVAL", "60")
    settings = Settings(database=str(tmp_path / "h.duckdb"))
    store = open_store(settings)
    close = store.close

    def closing() -> None:
        order.append("store closed")
        close()

    monkeypatch.setattr(store, "close", closing)
    app = create_app(settings, store)
    # a store handed in is not the app's to close: a shutdown hook closes it as late
    app.state.shutdown_hooks.append(_close(store))
    with TestClient(app):
        assert started.wait(5)
    assert order == ["tick done", "store closed"]


def _close(store: Any) -> Any:
    async def hook(app: Any) -> None:
        store.close()

    return hook
