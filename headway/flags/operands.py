"""How a condition's operand and an attribute's value are read for the looser operators: numbers
written as text, case-insensitive and any-of string tests, IP addresses and networks.

Both sides use these: `headway.flags.targeting` validates operands with them when a flag is
written, and the generated evaluators of `headway.flags.conditions` call them at evaluation.
None raises for a JSON value.
"""

from __future__ import annotations

import ipaddress
import math
import re
from collections.abc import Mapping
from functools import lru_cache
from typing import Any, Final

__all__ = [
    "IpAddress",
    "as_number",
    "casefolded",
    "contains_any",
    "contains_operands",
    "folded_members",
    "in_folded",
    "ip_address",
    "ip_in",
    "ip_networks",
    "network_problem",
    "strings",
]

IpAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
Networks = Mapping[int, tuple[tuple[int, int], ...]]  # per IP version: (network, mask) as ints

# A decimal number as JSON and most languages write it: ASCII digits only, no "inf", "nan",
# "0x1f", "1_000" or surrounding space, which Python's float() would also take.
_NUMERIC_TEXT: Final = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
_INTEGER_TEXT: Final = re.compile(r"[+-]?[0-9]+")
_TEXT_MAX: Final = 64  # a longer string is no number anyone carries as text


def as_number(value: object) -> int | float | None:
    """The number `value` is, or carries as text ("42", "-3.5", "1e3"); else None.

    Booleans are not numbers. Text that would be infinite is none either.
    """
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return value
    if not isinstance(value, str) or len(value) > _TEXT_MAX or not _NUMERIC_TEXT.fullmatch(value):
        return None
    if _INTEGER_TEXT.fullmatch(value):
        return int(value)  # exact: "9007199254740993" stays that integer
    number = float(value)
    return number if math.isfinite(number) else None


def strings(value: object) -> tuple[str, ...] | None:
    """A string or a non-empty list of strings as a tuple (any-of); else None."""
    if isinstance(value, str):
        return (value,)
    if isinstance(value, list) and value and all(isinstance(v, str) for v in value):
        return tuple(value)
    return None


def casefolded(value: object) -> tuple[str, ...]:
    """The operand of a case-insensitive string operator, folded once (validated already)."""
    return tuple(s.casefold() for s in strings(value) or ())


def folded_members(value: object) -> frozenset[str]:
    return frozenset(casefolded(value))


def in_folded(members: frozenset[str], v: Any) -> bool:
    """`in_ci`: the string, or for a list any string element, folded, is one of `members`."""
    if isinstance(v, str):
        return v.casefold() in members
    if isinstance(v, list | tuple):
        return any(isinstance(e, str) and e.casefold() in members for e in v)
    return False


def contains_any(v: Any, operands: tuple[Any, ...], fold: bool = False) -> bool:
    """`contains`: a string holds one of `operands` as a substring, or a list holds one as an
    element; with `fold`, operands are folded already and the attribute's strings are too."""
    if isinstance(v, str):
        text = v.casefold() if fold else v
        return any(isinstance(x, str) and x in text for x in operands)
    if isinstance(v, list | tuple):
        if fold:
            return any(isinstance(e, str) and e.casefold() in operands for e in v)
        return any(x in v for x in operands)
    return False


def contains_operands(value: object) -> tuple[Any, ...]:
    """`contains`' operand as a tuple: a list is any of its elements, anything else itself."""
    return tuple(value) if isinstance(value, list) else (value,)


@lru_cache(maxsize=4096)
def ip_address(text: str) -> IpAddress | None:
    """The address `text` writes, an IPv4-mapped IPv6 address as its IPv4 one; else None."""
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def ip_networks(value: object) -> Networks:
    """An `ip_in` operand (a network or list of them, validated already) by IP version.

    A network's ints are compared with an address's: Python's `address in network` does not
    check the version, so 10.0.0.1 would be "in" ::/0.
    """
    out: dict[int, list[tuple[int, int]]] = {4: [], 6: []}
    for text in strings(value) or ():
        network = ipaddress.ip_network(text)
        out[network.version].append((int(network.network_address), int(network.netmask)))
    return {version: tuple(nets) for version, nets in out.items()}


def ip_in(networks: Networks, address: IpAddress) -> bool:
    number = int(address)
    return any(number & mask == net for net, mask in networks[address.version])


def network_problem(text: str) -> str | None:
    """Why `text` is not an IP address or network in CIDR notation, or None if it is one."""
    try:
        ipaddress.ip_network(text)
    except ValueError as exc:
        if "has host bits set" in str(exc):
            fixed = ipaddress.ip_network(text, strict=False)
            return f"{text!r} has host bits set; write {fixed}"
        return f"{text!r} is not an IP address or a CIDR network such as 10.0.0.0/8"
    return None
