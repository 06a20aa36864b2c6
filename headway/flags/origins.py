"""Browser origins an environment lets call its client-side endpoints (CORS).

An origin is written as browsers send it in the `Origin` header: scheme, host and a port only
when it is not the scheme's default (`https://app.example.com`, `http://localhost:3000`).
`normalize_origin` accepts the spellings people paste (a trailing slash, capitals, `:443`) and
refuses anything that is not one exact origin: a path, a wildcard, credentials in the URL.
"""

from __future__ import annotations

from collections.abc import Iterable
from urllib.parse import urlsplit

__all__ = ["MAX_ORIGINS", "normalize_origin", "normalize_origins"]

MAX_ORIGINS = 100  # per environment; more is a sign of a wildcard written out by hand
_DEFAULT_PORTS = {"http": 80, "https": 443}


def normalize_origin(text: str) -> str:
    """The origin as a browser sends it; ValueError saying what is wrong otherwise."""
    raw = text.strip()
    if "*" in raw:
        raise ValueError(
            f"{text!r}: wildcards are not allowed; list each origin, e.g. https://app.example.com"
        )
    try:
        parts = urlsplit(raw.removesuffix("/"))
        port = parts.port
    except ValueError as exc:
        raise ValueError(f"{text!r}: not an origin ({exc})") from None
    scheme = parts.scheme.lower()
    if scheme not in _DEFAULT_PORTS or not parts.hostname:
        raise ValueError(f"{text!r}: write scheme and host, e.g. https://app.example.com")
    if parts.path or parts.query or parts.fragment or parts.username or parts.password:
        raise ValueError(
            f"{text!r}: an origin is scheme, host and port only; remove the path, query or "
            "credentials"
        )
    host = parts.hostname.lower()
    if ":" in host:
        host = f"[{host}]"  # an IPv6 literal keeps its brackets in an origin
    if port is None or port == _DEFAULT_PORTS[scheme]:
        return f"{scheme}://{host}"
    return f"{scheme}://{host}:{port}"


def normalize_origins(texts: Iterable[str]) -> tuple[str, ...]:
    """Each origin normalised, duplicates dropped, in the order given."""
    out: dict[str, None] = {}
    for text in texts:
        out[normalize_origin(text)] = None
    if len(out) > MAX_ORIGINS:
        raise ValueError(f"at most {MAX_ORIGINS} origins per environment; got {len(out)}")
    return tuple(out)
