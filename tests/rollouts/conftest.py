"""Shared fixtures: a flag, a settable clock. The `store` fixture (tests/conftest.py) gives a
fresh store on DuckDB and on PostgreSQL in turn."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from headway.flags.model import Flag, Serve, parse_flag

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


class MemoryFlags:
    """The flags service's contract, held in a dict (the test double of `FlagControl`)."""

    def __init__(self, *flags: Flag) -> None:
        self.flags = {f.key: f for f in flags}
        self.changes: list[tuple[str, str, Serve, str]] = []

    def get_flag(self, key: str) -> Flag | None:
        return self.flags.get(key)

    def set_default_serve(
        self, key: str, environment: str, serve: Serve, *, actor: str, reason: str
    ) -> None:
        flag = self.flags[key]
        env = flag.environments[environment].model_copy(update={"default": serve})
        environments = {**flag.environments, environment: env}
        self.flags[key] = flag.model_copy(update={"environments": environments})
        self.changes.append((key, environment, serve, actor))

    def serving(self, key: str, environment: str) -> Serve:
        return self.flags[key].environments[environment].default


def checkout_flag(enabled: bool = True) -> Flag:
    return parse_flag(
        {
            "key": "new-checkout",
            "type": "boolean",
            "owner": "payments",
            "service": "checkout",
            "variants": [{"key": "on", "value": True}, {"key": "off", "value": False}],
            "lifecycle": {"kind": "temporary", "expected_removal": "2026-12-31"},
            "environments": {
                "production": {
                    "enabled": enabled,
                    "off_variant": "off",
                    "default": {"variant": "off"},
                }
            },
        }
    )


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def flags() -> MemoryFlags:
    return MemoryFlags(checkout_flag())
