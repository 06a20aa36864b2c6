"""Outbound requests reach only the hosts and addresses the operator allows."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest

from headway.config import Settings
from headway.outbound import (
    GuardedTransport,
    OutboundPolicy,
    OutboundRefused,
    guarded_client,
    parse_host,
)

PUBLIC = "93.184.215.14"


def policy(
    *hosts: str, resolves_to: tuple[str, ...] = (PUBLIC,), networks: tuple[str, ...] = ()
) -> OutboundPolicy:
    return OutboundPolicy.build(hosts, networks, resolve=lambda *_: list(resolves_to))


def test_by_default_no_host_is_allowed() -> None:
    default = OutboundPolicy.from_settings(Settings())
    with pytest.raises(OutboundRefused) as refused:
        default.check_url("http://prometheus:9090", "prometheus_url")
    # The message names the field, the host and port, and the setting that would allow it.
    assert str(refused.value).startswith(
        "prometheus_url: prometheus:9090 is not an allowed outbound host; an operator can "
        """allow it with HEADWAY_OUTBOUND_HOSTS='["prometheus:9090"]' (now: none)"""
    )


def test_a_host_entry_allows_every_port_and_host_port_only_that_one() -> None:
    allowed = policy("prometheus", "metrics.example.com:9090")
    assert allowed.check_url("http://prometheus:9090/") == ("prometheus", 9090)
    assert allowed.check_url("https://Prometheus/") == ("prometheus", 443)
    assert allowed.check_url("http://metrics.example.com:9090") == ("metrics.example.com", 9090)
    with pytest.raises(OutboundRefused, match=r"metrics\.example\.com:80 is not an allowed"):
        allowed.check_url("http://metrics.example.com")


@pytest.mark.parametrize(
    ("url", "problem"),
    [
        ("ftp://prometheus/", "must be an http:// or https:// URL"),
        ("http://user:pw@prometheus/", "must not carry a user name or password"),
        ("prometheus:9090", "must be an http:// or https:// URL"),
    ],
)
def test_urls_of_other_shapes_are_refused(url: str, problem: str) -> None:
    with pytest.raises(OutboundRefused, match=problem):
        policy("prometheus").check_url(url, "prometheus_url")


@pytest.mark.parametrize(
    "address", ["169.254.169.254", "127.0.0.1", "10.1.2.3", "100.64.0.1", "0.0.0.0", "::1"]
)
def test_a_listed_private_literal_is_still_refused_unless_its_network_is(address: str) -> None:
    host = f"[{address}]" if ":" in address else address
    url = f"http://{host}:9090/"
    with pytest.raises(OutboundRefused, match="private, loopback, link-local or reserved"):
        policy(f"{host}:9090").check_url(url)
    network = f"{address}/{128 if ':' in address else 32}"
    assert policy(f"{host}:9090", networks=(network,)).check_url(url)[1] == 9090


def test_every_address_a_name_resolves_to_must_be_allowed() -> None:
    # A name that resolves to a public and a metadata address could be reached at either.
    mixed = policy("prometheus", resolves_to=(PUBLIC, "169.254.169.254"))
    with pytest.raises(OutboundRefused, match=r"prometheus is at 169\.254\.169\.254"):
        mixed.address("prometheus", 9090)
    # The operator allows the internal network Prometheus lives in; the metadata address is
    # outside it and still refused.
    inside = policy("prometheus", resolves_to=("10.0.0.7",), networks=("10.0.0.0/8",))
    assert inside.address("prometheus", 9090) == "10.0.0.7"
    # (also when written as an IPv4-mapped IPv6 address)
    mapped = policy("prometheus", resolves_to=("::ffff:a9fe:a9fe",), networks=("10.0.0.0/8",))
    with pytest.raises(OutboundRefused, match="prometheus is at ::ffff:a9fe:a9fe"):
        mapped.address("prometheus", 9090)


def test_a_name_that_does_not_resolve_is_refused() -> None:
    def fail(host: str, port: int) -> list[str]:
        raise OSError("Name or service not known")

    with pytest.raises(OutboundRefused, match="cannot resolve prometheus: Name or service"):
        OutboundPolicy.build(["prometheus"], resolve=fail).address("prometheus", 80)


def test_the_transport_sends_to_the_address_it_checked_keeping_the_name() -> None:
    seen: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={})

    allowed = policy("prometheus")
    with httpx.Client(transport=GuardedTransport(allowed, httpx.MockTransport(answer))) as http:
        http.get("https://prometheus:9090/api/v1/query")
    (request,) = seen
    assert (request.url.host, request.url.port) == (PUBLIC, 9090)
    assert request.headers["host"] == "prometheus:9090"
    assert request.extensions["sni_hostname"] == "prometheus"


def test_the_transport_refuses_before_connecting_when_dns_moved() -> None:
    # Given a host allowed when the rollout was created, now resolving to the metadata service
    moved = policy("prometheus", resolves_to=("169.254.169.254",))
    never = httpx.MockTransport(lambda _: pytest.fail("the request must not be sent"))
    refused = pytest.raises(httpx.ConnectError, match=r"prometheus is at 169\.254\.169\.254")
    with httpx.Client(transport=GuardedTransport(moved, never)) as http, refused:
        http.get("http://prometheus:9090/api/v1/query")
    # And a host no longer listed is refused too.
    unlisted = pytest.raises(httpx.ConnectError, match="not an allowed outbound host")
    with httpx.Client(transport=GuardedTransport(policy(), never)) as http, unlisted:
        http.get("http://prometheus:9090/api/v1/query")


@pytest.mark.parametrize("entry", ["http://prometheus", "prometheus/x", "user@prometheus", ""])
def test_settings_refuse_entries_that_are_not_hosts(entry: str) -> None:
    with pytest.raises(ValueError, match="is not a host or host:port"):
        parse_host(entry)
    with pytest.raises(ValueError, match=r"is not a network such as 10\.0\.0\.0/8"):
        Settings(outbound_private_networks=["10.0.0.0/33"])
    assert Settings(outbound_hosts=["Prometheus:9090"]).outbound_hosts == ["prometheus:9090"]


def test_a_real_request_reaches_an_allowed_local_server_by_name() -> None:
    # Given a local HTTP server, reached as `localhost`, and an operator allowing it
    class Echo(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = self.headers["Host"].encode()
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Echo)
    port = server.server_address[1]
    threading.Thread(target=server.serve_forever, daemon=True).start()
    allowed = OutboundPolicy.build(
        [f"localhost:{port}"], ["127.0.0.1/32"], resolve=lambda *_: ["127.0.0.1"]
    )
    try:
        with guarded_client(allowed) as http:
            # Then it is reached at the checked address, with its name in the Host header
            assert http.get(f"http://localhost:{port}/").text == f"localhost:{port}"
        # And without the network allowed, loopback is refused before connecting.
        loopback = policy(f"localhost:{port}", resolves_to=("127.0.0.1",))
        refused = pytest.raises(httpx.ConnectError, match="private, loopback")
        with guarded_client(loopback) as http, refused:
            http.get(f"http://localhost:{port}/")
    finally:
        server.shutdown()
        server.server_close()
