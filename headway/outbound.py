"""Requests to URLs an admin configured (a rollout's Prometheus), only to hosts the operator
allows, so that a Headway admin cannot make the server reach its own network.

`HEADWAY_OUTBOUND_HOSTS` lists the hosts (`host` or `host:port`); a URL naming another is
refused when it is configured (`OutboundPolicy.check_url`). At each request the host is
resolved again, since DNS may have changed, and every address it resolves to must be public,
or lie in `HEADWAY_OUTBOUND_PRIVATE_NETWORKS`: private, loopback, link-local (the cloud
metadata service at 169.254.169.254), shared, reserved and multicast addresses are refused.
The request then goes to the address that was checked (`GuardedTransport`), so a second
lookup cannot swap it for another.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

import httpx

from headway.config import Settings
from headway.config_values import parse_host

__all__ = ["GuardedTransport", "OutboundPolicy", "OutboundRefused", "guarded_client", "parse_host"]

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network
Resolver = Callable[[str, int], list[str]]
_PORTS = {"http": 80, "https": 443}


class OutboundRefused(ValueError):
    """A URL or address the operator's settings do not allow; the message says which."""


def _resolve(host: str, port: int) -> list[str]:
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return [str(info[4][0]).split("%")[0] for info in infos]


def _literal(host: str) -> Address | None:
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        return None


@dataclass(frozen=True)
class OutboundPolicy:
    hosts: frozenset[str] = frozenset()
    networks: tuple[Network, ...] = ()
    resolve: Resolver = field(default=_resolve, compare=False)

    @classmethod
    def build(
        cls, hosts: Iterable[str], networks: Iterable[str] = (), resolve: Resolver = _resolve
    ) -> OutboundPolicy:
        return cls(
            frozenset(parse_host(h) for h in hosts),
            tuple(ipaddress.ip_network(n) for n in networks),
            resolve,
        )

    @classmethod
    def from_settings(cls, settings: Settings) -> OutboundPolicy:
        return cls.build(settings.outbound_hosts, settings.outbound_private_networks)

    def check_url(self, url: str, name: str = "url") -> tuple[str, int]:
        """The URL's (host, port) when its host is allowed; else OutboundRefused naming
        `name` (the field it came from) and the setting that would allow it."""
        try:
            parsed = httpx.URL(url)
        except httpx.InvalidURL as error:
            raise OutboundRefused(f"{name}: {url!r} is not a URL ({error})") from None
        if parsed.scheme not in _PORTS or not parsed.host:
            raise OutboundRefused(f"{name}: {url!r} must be an http:// or https:// URL")
        if parsed.userinfo:
            raise OutboundRefused(f"{name}: {url!r} must not carry a user name or password")
        host, port = parsed.host, parsed.port or _PORTS[parsed.scheme]
        if host not in self.hosts and f"{host}:{port}" not in self.hosts:
            raise OutboundRefused(
                f"{name}: {host}:{port} is not an allowed outbound host; an operator can "
                f"allow it with HEADWAY_OUTBOUND_HOSTS='[\"{host}:{port}\"]' "
                f"(now: {', '.join(sorted(self.hosts)) or 'none'})"
            )
        literal = _literal(host)
        if literal is not None:
            self._check_address(literal, host, name)
        return host, port

    def address(self, host: str, port: int, name: str = "url") -> str:
        """Resolve an allowed host now and return the address to connect to, refusing it
        when any address it resolves to is not allowed."""
        try:
            found = self.resolve(host, port)
        except OSError as error:
            raise OutboundRefused(f"{name}: cannot resolve {host}: {error}") from None
        if not found:
            raise OutboundRefused(f"{name}: {host} resolves to no address")
        for text in found:
            self._check_address(ipaddress.ip_address(text), host, name)
        return found[0]

    def _check_address(self, address: Address, host: str, name: str) -> None:
        mapped = getattr(address, "ipv4_mapped", None)
        candidates = [address, mapped] if mapped is not None else [address]
        if any(a in n for a in candidates for n in self.networks if a.version == n.version):
            return
        if address.is_global and not address.is_multicast and mapped is None:
            return
        raise OutboundRefused(
            f"{name}: {host} is at {address}, a private, loopback, link-local or reserved "
            "address; an operator can allow its network with "
            f"HEADWAY_OUTBOUND_PRIVATE_NETWORKS='[\"{address}/{address.max_prefixlen}\"]'"
        )


class GuardedTransport(httpx.BaseTransport):
    """Sends a request only to an allowed host, at an address checked just now.

    The URL's host is replaced by that address; the `Host` header keeps the name, and for
    https the name is sent as SNI and its certificate checked against it.
    """

    def __init__(self, policy: OutboundPolicy, inner: httpx.BaseTransport | None = None) -> None:
        self.policy = policy
        self.inner = inner or httpx.HTTPTransport()

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        try:
            host, port = self.policy.check_url(str(request.url))
            address = self.policy.address(host, port)
        except OutboundRefused as error:
            raise httpx.ConnectError(str(error).removeprefix("url: "), request=request) from None
        if request.url.scheme == "https":
            request.extensions = {**request.extensions, "sni_hostname": host}
        request.url = request.url.copy_with(host=address)
        return self.inner.handle_request(request)

    def close(self) -> None:
        self.inner.close()


def guarded_client(policy: OutboundPolicy, timeout: float = 5.0) -> httpx.Client:
    """An httpx client that reaches only what `policy` allows and follows no redirects."""
    # trust_env=False: a proxy from HTTP_PROXY would be mounted in front of the guard.
    return httpx.Client(transport=GuardedTransport(policy), timeout=timeout, trust_env=False)
