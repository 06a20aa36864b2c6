"""The syntax of the settings whose values are more than a type: an outbound host
(`HEADWAY_OUTBOUND_HOSTS`), the single sign-on role map (`HEADWAY_OIDC_ROLE_MAP`) and the key
that encrypts stored secrets (`HEADWAY_SECRET_KEY`).

`headway.config` checks its settings with these, and `headway.outbound` reads hosts with
them; they import nothing of Headway, so either can use them.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import AfterValidator, SecretStr


def parse_host(entry: str) -> str:
    """One `HEADWAY_OUTBOUND_HOSTS` entry, lower-cased: `host` or `host:port`.

    Here rather than in `headway.outbound`, which uses the settings, so settings can check
    their own values without importing what depends on them.
    """
    import httpx

    try:
        url = httpx.URL(f"http://{entry.strip()}")
    except httpx.InvalidURL:
        url = None
    bad = (
        url is None
        or not url.host
        or url.userinfo
        or url.raw_path not in (b"", b"/")
        or url.query
        or url.fragment
    )
    if bad:
        raise ValueError(f"{entry!r} is not a host or host:port, e.g. prometheus:9090")
    assert url is not None
    return f"{url.host}:{url.port}" if url.port else url.host


ROLE_NAMES = ("viewer", "editor", "admin")


def parse_role_map(text: str) -> dict[str, str]:
    """`GROUP=ROLE,GROUP=ROLE` as a mapping; a ValueError names the entry that is not one."""
    mapping: dict[str, str] = {}
    for entry in (e.strip() for e in text.split(",")):
        if not entry:
            continue
        group, equals, role = (part.strip() for part in entry.rpartition("="))
        if not equals or not group or role not in ROLE_NAMES:
            raise ValueError(
                f"{entry!r} is not GROUP=ROLE with a role of viewer, editor or admin "
                "(e.g. platform-admins=admin,eng=viewer)"
            )
        mapping[group] = role
    return mapping


SECRET_KEY_BYTES = 32


def parse_secret_key(text: str) -> bytes:
    """A `HEADWAY_SECRET_KEY`: 32 random bytes written in base64 (either alphabet, with or
    without padding), as `openssl rand -base64 32` prints them."""
    import base64
    import binascii

    cleaned = text.strip().replace("-", "+").replace("_", "/")
    try:
        raw = base64.b64decode(cleaned + "=" * (-len(cleaned) % 4), validate=True)
    except (binascii.Error, ValueError):
        raw = b""
    if len(raw) != SECRET_KEY_BYTES:
        raise ValueError(
            "a secret key is 32 random bytes in base64 (44 characters); "
            "make one with `openssl rand -base64 32`"
        )
    return raw


def _secret_key(value: SecretStr) -> SecretStr:
    parse_secret_key(value.get_secret_value())
    return value


# A setting holding a secret key: hidden when printed, refused unless 32 bytes of base64.
SecretKey = Annotated[SecretStr, AfterValidator(_secret_key)]
