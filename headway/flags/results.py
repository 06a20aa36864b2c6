"""The typed answers of the flag routes that are not a flag or a segment: an explanation, the
SDK configuration, OpenFeature Remote Evaluation (OFREP) results and scheduled changes.

The SDK and OFREP routes write their bodies themselves (ETags hash the exact bytes), so these
models describe those bodies in `/openapi.json`; `tests/api/test_openapi.py` checks the answers
against them.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import Field

from headway.flags.model import Flag, Segment
from headway.result import Result

__all__ = [
    "Action",
    "Explanation",
    "OfrepBulk",
    "OfrepError",
    "OfrepEvaluation",
    "OfrepFailure",
    "Schedule",
    "SdkConfig",
]


class Explanation(Result):
    """A flag evaluated for a context, with the reasons in words."""

    value: Any = Field(description="The served value (its type is the flag's).")
    variant: str | None
    reason: str = Field(description="OpenFeature reason: STATIC, TARGETING_MATCH, SPLIT, …")
    error_code: str | None
    error_message: str | None
    rule: str | None = Field(description="The id of the rule that matched, if one did.")
    explanation: list[str]


class SdkConfig(Result):
    """One environment's live flags, trimmed to that environment, and every segment."""

    format: int = Field(description="The document's format version.")
    environment: str
    flags: list[Flag]
    segments: list[Segment]


class OfrepEvaluation(Result):
    key: str
    value: Any
    reason: str
    variant: str | None
    metadata: dict[str, Any] = Field(description="`version` of the flag, `rule` if one matched.")


class OfrepFailure(Result):
    key: str
    errorCode: str
    errorDetails: str


class OfrepBulk(Result):
    flags: list[OfrepEvaluation | OfrepFailure]


class OfrepError(Result):
    """OFREP's error shape: a missing key, a bad body, a server failure. On the one-flag route
    `key` names the flag asked for; the bulk route's refusals have none."""

    key: str | None = None
    errorCode: str = Field(
        description="PARSE_ERROR, INVALID_CONTEXT, TARGETING_KEY_MISSING or GENERAL"
    )
    errorDetails: str


Action = Literal["on", "off", "kill", "serve"]
State = Literal["pending", "claimed", "applied", "failed", "cancelled"]


class Schedule(Result):
    """A change scheduled for one flag in one environment, and what became of it."""

    id: str
    flag: str
    environment: str
    action: Action = Field(
        description="on, off, kill, or serve (`variant` by default: to all no rule targets)"
    )
    variant: str | None = Field(description="The variant `serve` serves; null otherwise.")
    at: datetime = Field(description="When it runs (UTC).")
    zone: str = Field(description="The zone it was given in: an IANA name or an offset.")
    local: str = Field(description="`at` in `zone`, e.g. `2026-12-08 09:00 Europe/Paris`.")
    reason: str | None
    state: State = Field(description="pending, claimed (being applied), applied, failed, cancelled")
    created_by: str
    created_at: datetime
    claimed_by: str | None = Field(description="The runner that took it: host:process:nonce.")
    claimed_at: datetime | None
    attempts: int = Field(description="How many times a runner took it (more than 1: retaken).")
    finished_at: datetime | None
    outcome: str | None = Field(description="What happened, or why it failed or was cancelled.")
    flag_version: int | None = Field(description="The flag's version once applied.")

    @property
    def change(self) -> str:
        """The change in words: `switch on`, `switch off`, `kill`, `serve VARIANT`."""
        words = {"on": "switch on", "off": "switch off", "kill": "kill"}
        return words.get(self.action) or f"serve {self.variant}"
