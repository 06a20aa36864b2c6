"""The Headway SDK: local flag evaluation kept in sync with the server.

`Client(url, sdk_key)` downloads its environment's configuration, then follows changes over
server-sent events; when the stream is unavailable it polls with ETag/If-None-Match. If the
server cannot be reached it keeps serving the last good configuration (or a bootstrap file).
Evaluations are counted per flag and variant and sent in batches to `/sdk/exposures`;
`track()` values are attributed to the variant each user was served and sent, aggregated, to
`/sdk/metrics` on the same cycle, where rollout guardrails read them.

Evaluating never raises and never blocks on the network.
"""

from __future__ import annotations

import contextlib
import logging
import math
import socket
import threading
from collections.abc import Callable, Iterator, Mapping
from functools import partial
from pathlib import Path
from typing import Any

import httpx

from headway.flags.evaluate import (
    ErrorCode,
    Evaluation,
    Reason,
    Recorder,
    ValueEvaluator,
    error_result,
)
from headway.flags.model import Flag
from headway.flags.snapshot import Snapshot, build_snapshot
from headway.sdk.sender import Exposures, Sender
from headway.sdk.stream import DirectStream, proxied, server_sent_events, tls_context
from headway.sdk.tables import KINDS, Entry, compile_tables
from headway.sdk.telemetry import METRIC_NAME, MetricSums, ServedVariants

__all__ = ["Client", "ConfigListener"]

log = logging.getLogger("headway.sdk")

ConfigListener = Callable[[Snapshot | None, Snapshot], None]
_EMPTY: Mapping[str, Any] = {}
_USER_AGENT = "headway-python-sdk"
_READ_TIMEOUT = 60.0  # the server pings every 15 s


class Client:
    """Evaluate flags locally. See docs/flags.md for every option."""

    def __init__(
        self,
        url: str | None = None,
        sdk_key: str | None = None,
        *,
        bootstrap: str | Path | Mapping[str, Any] | bytes | None = None,
        offline: bool = False,
        stream: bool = True,
        poll_interval: float = 30.0,
        flush_interval: float = 10.0,
        send_exposures: bool = True,
        timeout: float = 10.0,
        transport: httpx.BaseTransport | None = None,
        served_capacity: int = 100_000,
    ) -> None:
        if not offline and (not url or not sdk_key):
            raise ValueError("give url and sdk_key, or offline=True with a bootstrap")
        self._url = (url or "").rstrip("/")
        self._key = sdk_key or ""
        self._offline = offline
        self._stream_enabled = stream
        self._poll_interval = poll_interval
        self._flush_interval = flush_interval
        self._send_exposures = send_exposures and not offline
        self._timeout = timeout
        self._transport = transport
        self._table: dict[str, Entry] = {}
        # The typed getters' own tables: a flag of another type is simply absent from them.
        self._booleans: dict[str, ValueEvaluator] = {}
        self._strings: dict[str, ValueEvaluator] = {}
        self._numbers: dict[str, ValueEvaluator] = {}
        self._jsons: dict[str, ValueEvaluator] = {}
        self._typed: dict[str, dict[str, ValueEvaluator]] = {kind: {} for kind in KINDS}
        self._snapshot: Snapshot | None = None
        self._exposures = Exposures()
        self._served = ServedVariants(served_capacity)
        self._metrics = MetricSums()
        self._listeners: list[ConfigListener] = []
        self._ready = threading.Event()
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._interrupt: Callable[[], None] | None = None  # ends the open stream's read
        self._threads: list[threading.Thread] = []
        self.last_error: str | None = None
        self.connected = False  # True while the event stream is open
        if bootstrap is not None:
            self._apply(_load_bootstrap(bootstrap))
        if offline:
            self._ready.set()
            return
        self._http = httpx.Client(
            base_url=self._url,
            verify=tls_context(),
            headers={"Authorization": f"Bearer {self._key}", "User-Agent": _USER_AGENT},
            timeout=timeout,
            transport=transport,
        )
        self._sender = Sender(self._http, self._exposures, self._metrics, self)
        self._spawn(self._sync_loop, "headway-sdk-sync")
        if self._send_exposures and flush_interval > 0:
            self._spawn(self._flush_loop, "headway-sdk-exposures")

    # -- evaluation (hot path) ----------------------------------------------------------------

    def evaluate(self, key: str, context: Mapping[str, Any] = _EMPTY) -> Evaluation:
        """Evaluate a flag; on error, value and variant are None (see `details`)."""
        entry = self._table.get(key)
        if entry is None:
            return error_result(key, ErrorCode.FLAG_NOT_FOUND, f"flag '{key}' is not defined")
        return entry[0](context)

    def details(
        self, key: str, default: Any, context: Mapping[str, Any] = _EMPTY, kind: str | None = None
    ) -> Evaluation:
        """Like `evaluate`, with `default` as the value on error and a type check for `kind`."""
        entry = self._table.get(key)
        if entry is None:
            return Evaluation(
                key,
                default,
                None,
                Reason.ERROR,
                ErrorCode.FLAG_NOT_FOUND,
                f"flag '{key}' is not defined",
            )
        if kind is not None and entry[1] != kind:
            return Evaluation(
                key,
                default,
                None,
                Reason.ERROR,
                ErrorCode.TYPE_MISMATCH,
                f"flag '{key}' is a {entry[1]} flag, not {kind}",
            )
        result = entry[0](context)
        if result.error_code is not None:
            return Evaluation(
                key,
                default,
                None,
                result.reason,
                result.error_code,
                result.error_message,
                result.rule,
            )
        return result

    # The typed getters are the hot path: one lookup, one call of an evaluator that returns the
    # value itself (see `compile_value`); an unknown flag finds `_absent`, which returns default.

    def boolean(self, key: str, default: bool, context: Mapping[str, Any] = _EMPTY) -> bool:
        return self._booleans.get(key, _absent)(context, default)  # type: ignore[no-any-return]

    def string(self, key: str, default: str, context: Mapping[str, Any] = _EMPTY) -> str:
        return self._strings.get(key, _absent)(context, default)  # type: ignore[no-any-return]

    def number(self, key: str, default: float, context: Mapping[str, Any] = _EMPTY) -> float:
        return self._numbers.get(key, _absent)(context, default)  # type: ignore[no-any-return]

    def json(self, key: str, default: Any, context: Mapping[str, Any] = _EMPTY) -> Any:
        return self._jsons.get(key, _absent)(context, default)

    # -- state ---------------------------------------------------------------------------------

    @property
    def snapshot(self) -> Snapshot | None:
        return self._snapshot

    @property
    def etag(self) -> str | None:
        return self._snapshot.etag if self._snapshot else None

    def flag_keys(self) -> list[str]:
        return sorted(self._table)

    def wait_until_ready(self, timeout: float | None = None) -> bool:
        """Block until a configuration is loaded (from bootstrap or the server)."""
        return self._ready.wait(timeout)

    def add_listener(self, listener: ConfigListener) -> None:
        """Call `listener(old, new)` after each configuration change (from a background thread)."""
        self._listeners.append(listener)

    def remove_listener(self, listener: ConfigListener) -> None:
        if listener in self._listeners:
            self._listeners.remove(listener)

    def load(self, document: Mapping[str, Any] | bytes) -> None:
        """Replace the configuration by hand (offline mode, tests)."""
        self._apply(build_snapshot(document, self._snapshot))

    def _apply(self, snapshot: Snapshot) -> bool:
        with self._lock:
            old = self._snapshot
            if old is not None and old.etag == snapshot.etag:
                self._ready.set()
                return False
            table, typed = compile_tables(snapshot, old, self._table, self._typed, self._recorder)
            # Reference swaps: each read sees one table old or new, never a mix.
            self._table, self._typed = table, typed
            self._booleans, self._strings = typed["boolean"], typed["string"]
            self._numbers, self._jsons = typed["number"], typed["json"]
            self._snapshot = snapshot
        self._ready.set()
        for listener in list(self._listeners):
            try:
                listener(old, snapshot)
            except Exception:
                log.exception("flag configuration listener failed")
        return True

    def _recorder(self, key: str, flag: Flag) -> Recorder | None:
        """What a compiled evaluator of `flag` records; a client that sends nothing records
        nothing."""
        if not self._send_exposures:
            return None
        counters = self._exposures.counters_for(key, [v.key for v in flag.variants])
        return Recorder(counters, self._served.current, self._served.admit)

    # -- synchronisation -----------------------------------------------------------------------

    def _spawn(self, target: Callable[[], None], name: str) -> None:
        thread = threading.Thread(target=target, name=name, daemon=True)
        self._threads.append(thread)
        thread.start()

    def refresh(self) -> bool:
        """Fetch the configuration now (If-None-Match); True if it changed."""
        headers = {"If-None-Match": self.etag} if self.etag else {}
        response = self._http.get("/sdk/config", headers=headers)
        if response.status_code == 304:
            self._ready.set()
            return False
        if response.status_code in (401, 403):
            raise PermissionError(f"the server refused the SDK key: {response.text}")
        response.raise_for_status()
        return self._apply(build_snapshot(response.content, self._snapshot))

    def _sync_loop(self) -> None:
        backoff = 0.5
        while not self._stop.is_set():
            try:
                if self._stream_enabled:
                    self._stream_once()  # returns when the stream ends
                    backoff = 0.5
                else:
                    self.refresh()
            except PermissionError as exc:
                self.last_error = str(exc)
                log.error("%s", exc)
                self._ready.set()  # keep serving bootstrap/last good config; nothing to wait for
                return
            except Exception as exc:
                self.last_error = f"{type(exc).__name__}: {exc}"
                log.debug("flag sync failed: %s", self.last_error)
                # The stream is down: poll once so changes still arrive, then retry later.
                try:
                    self.refresh()
                except Exception as poll_exc:
                    self.last_error = f"{type(poll_exc).__name__}: {poll_exc}"
            finally:
                self.connected = False
            wait = (
                min(backoff, self._poll_interval) if self._stream_enabled else self._poll_interval
            )
            backoff = min(backoff * 2, self._poll_interval)
            self._stop.wait(wait)

    def _stream_once(self) -> None:
        headers = {"Accept": "text/event-stream"}
        if self.etag:
            headers["Last-Event-ID"] = self.etag
        if self._transport is None and not proxied(self._url):
            self._stream_direct(headers)
        else:
            self._stream_httpx(headers)

    def _stream_direct(self, headers: dict[str, str]) -> None:
        headers |= {"Authorization": f"Bearer {self._key}", "User-Agent": _USER_AGENT}
        stream = DirectStream(
            self._url,
            "/sdk/stream",
            headers,
            connect_timeout=self._timeout,
            read_timeout=_READ_TIMEOUT,
        )
        with stream:
            status, text = stream.open()
            if status in (401, 403):
                raise PermissionError(f"the server refused the SDK key: {text}")
            if status != 200:
                raise ConnectionError(f"the event stream answered {status}: {text[:200]}")
            self._follow(stream.chunks(), stream.interrupt)

    def _stream_httpx(self, headers: dict[str, str]) -> None:
        timeout = httpx.Timeout(self._timeout, read=_READ_TIMEOUT)
        with self._http.stream("GET", "/sdk/stream", headers=headers, timeout=timeout) as response:
            if response.status_code in (401, 403):
                response.read()
                raise PermissionError(f"the server refused the SDK key: {response.text}")
            response.raise_for_status()
            network = response.extensions.get("network_stream")
            sock = network.get_extra_info("socket") if network is not None else None
            self._follow(response.iter_raw(), partial(_shut_down, sock))

    def _follow(self, chunks: Iterator[bytes], interrupt: Callable[[], None]) -> None:
        """Apply each configuration the open stream delivers, until it ends or `close()`."""
        self._interrupt = interrupt
        self.connected = True
        try:
            # Raw bytes, parsed here: no decoding to text and back, no line-by-line iterator.
            for event, data in server_sent_events(chunks):
                if self._stop.is_set():
                    return
                if event == b"config":
                    self._apply(build_snapshot(data, self._snapshot))
        finally:
            self._interrupt = None

    # -- telemetry -----------------------------------------------------------------------------

    def track(
        self, name: str, value: float | None = None, context: Mapping[str, Any] = _EMPTY
    ) -> int:
        """Record one occurrence of metric `name` (an error, a latency, an order) for a user.

        It is attributed, for every flag, to the variant that `context`'s targeting key was
        last served by this client, and sent aggregated on the next flush. `value` defaults to
        1 (an event). Returns how many flags it was attributed to; never raises. A client
        that sends no telemetry (`offline=True` or `send_exposures=False`) neither counts
        exposures nor remembers what it served, so there it always returns 0.
        """
        if not isinstance(name, str) or not METRIC_NAME.match(name):
            self.last_error = f"track(): {name!r} is not a metric name (letters, digits, _ . -)"
            return 0
        number = 1.0 if value is None else value
        if isinstance(number, bool) or not isinstance(number, int | float):
            self.last_error = f"track({name!r}): value {value!r} is not a number"
            return 0
        if not math.isfinite(number):
            self.last_error = f"track({name!r}): value {value!r} is not finite"
            return 0
        key = context.get("targetingKey")
        served = self._served.served(key) if isinstance(key, str) else {}
        if served:
            self._metrics.add(served, name, float(number))
        return len(served)

    def flush(self) -> int:
        """Send exposure counts and tracked metrics now; returns how many rows were delivered.

        A batch that fails is kept and resent, with the same batch id, before the next one:
        the server ignores a batch id it has seen, so nothing is lost or counted twice.
        """
        if not self._send_exposures:
            return 0
        return self._sender.flush()

    def _flush_loop(self) -> None:
        while not self._stop.wait(self._flush_interval):
            self.flush()

    def close(self) -> None:
        """Stop background work and send the remaining exposures."""
        if self._stop.is_set():
            return
        self._stop.set()
        if self._offline:
            return
        interrupt = self._interrupt
        if interrupt is not None:
            interrupt()  # wakes the stream thread out of its blocking read
        self.flush()
        for thread in self._threads:
            thread.join(timeout=2)
        self._http.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _absent(context: Mapping[str, Any], default: Any) -> Any:
    return default


def _shut_down(sock: socket.socket | None) -> None:
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_RDWR)


def _load_bootstrap(source: str | Path | Mapping[str, Any] | bytes) -> Snapshot:
    if isinstance(source, str | Path):
        return build_snapshot(Path(source).read_bytes())
    return build_snapshot(source)
