"""Builders for flag documents used across the flag tests."""

from __future__ import annotations

from typing import Any

import pytest

from headway.flags.model import Flag, parse_flag


def boolean_flag(key: str = "new-checkout", **env: Any) -> Flag:
    """A boolean flag with variants on/off and one `production` environment built from `env`."""
    production = {"enabled": True, "off_variant": "off", "default": {"variant": "on"}, **env}
    return parse_flag(
        {
            "key": key,
            "type": "boolean",
            "owner": "team-payments",
            "variants": [{"key": "on", "value": True}, {"key": "off", "value": False}],
            "lifecycle": {"kind": "temporary", "expected_removal": "2030-01-01"},
            "environments": {"production": production},
        }
    )


def split(on: float, bucket_by: str = "targetingKey") -> dict[str, Any]:
    return {
        "split": {
            "weights": [{"variant": "on", "weight": on}, {"variant": "off", "weight": 100 - on}],
            "bucket_by": bucket_by,
        }
    }


@pytest.fixture
def make_flag() -> Any:
    return boolean_flag
