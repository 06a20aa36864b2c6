"""Failed sign-ins per client address: past HEADWAY_LOGIN_RATE_LIMIT, every sign-in from that
address (token or single sign-on) answers 429 with Retry-After until the window has room.

Only failures count, so a person who signs in is never held; the address is the connection's
(behind a proxy, run uvicorn with `--forwarded-allow-ips` so it is the client's, not the
proxy's). Counted per server process, as every limit (`headway.ratelimit`).
"""

from __future__ import annotations

from fastapi import Request

from headway.ratelimit import KeyRateLimit, shared

__all__ = ["client_address", "failed", "held"]


def _limit(request: Request) -> KeyRateLimit:
    return shared(request.app, "login_limit", "login_rate_limit")


def client_address(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def held(request: Request) -> int | None:
    """Seconds this address must wait before trying again, or None."""
    return _limit(request).held(client_address(request))


def failed(request: Request) -> None:
    """Count one failed sign-in from this address."""
    _limit(request).count(client_address(request))
