"""The typed answers of the flag routes that are not a flag or a segment: an explanation, the
SDK configuration and OpenFeature Remote Evaluation (OFREP) results.

The SDK and OFREP routes write their bodies themselves (ETags hash the exact bytes), so these
models describe those bodies in `/openapi.json`; `tests/api/test_openapi.py` checks the answers
against them.
"""

from __future__ import annotations

from typing import Any

from pydantic import Field

from headway.flags.model import Flag, Segment
from headway.result import Result

__all__ = [
    "Explanation",
    "OfrepBulk",
    "OfrepError",
    "OfrepEvaluation",
    "OfrepFailure",
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
