"""Per-key request limits: a sender beyond its key's rate gets 429 with Retry-After.

Counted in memory per server process with a moving window (the `limits` library), so each
replica or worker grants its own allowance; a key spread over N processes may send N times
the limit in all, which still bounds what one key can write. Three limits use it: guardrail
samples per SDK key (`HEADWAY_SAMPLE_RATE_LIMIT`), tokens made per caller
(`HEADWAY_TOKEN_RATE_LIMIT`) and failed sign-ins per client address
(`HEADWAY_LOGIN_RATE_LIMIT`, which counts failures only: a person who signs in is never held).
"""

from __future__ import annotations

from typing import Any

from fastapi.responses import JSONResponse

from headway.ratelimit import KeyRateLimit, shared

__all__ = ["KeyRateLimit", "login_limit", "token_limit", "too_many"]


def token_limit(app: Any) -> KeyRateLimit:
    return shared(app, "token_limit", "token_rate_limit")


def login_limit(app: Any) -> KeyRateLimit:
    return shared(app, "login_limit", "login_rate_limit")


def too_many(limit: KeyRateLimit, key: str, what: str, setting: str) -> JSONResponse | None:
    """Count one request of `key`: None, or the 429 (with Retry-After) once it is over."""
    wait = limit.retry_after(key)
    if wait is None:
        return None
    return JSONResponse(
        {"error": f"too many {what}: at most {limit} ({setting}); retry in {wait} s"},
        status_code=429,
        headers={"Retry-After": str(wait)},
    )
