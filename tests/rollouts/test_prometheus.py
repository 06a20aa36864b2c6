"""Guardrail events read from Prometheus: a fake server built from the documented answer
format (https://prometheus.io/docs/prometheus/latest/querying/api/) behind httpx's
MockTransport."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs

import httpx
import pytest
from sqlalchemy import func, select

from headway.outbound import GuardedTransport, OutboundPolicy
from headway.rollouts.controller import RolloutService
from headway.rollouts.plan import PlanError, State
from headway.rollouts.prometheus import PrometheusError, instant_query
from headway.store import Store
from headway.store.schema import guardrail_samples
from tests.rollouts.conftest import Clock, MemoryFlags
from tests.rollouts.test_controller import ENV, plan

URL = "http://prometheus:9090"
PUBLIC = "93.184.215.14"  # any global address: the fake answers whatever it is sent to
QUERY = 'sum(increase(checkout_errors_total{variant="$variant"}[$window]))'
AT = datetime(2026, 3, 2, 9, 3, tzinfo=UTC)


class FakePrometheus:
    """Answers `/api/v1/query` with an instant vector holding the count set for each variant."""

    def __init__(self) -> None:
        self.errors = {"on": 0.0, "off": 0.0}
        self.queries: list[str] = []
        self.down = False

    def __call__(self, request: httpx.Request) -> httpx.Response:
        assert request.url.path == "/api/v1/query"
        form = parse_qs(request.content.decode())
        query = form["query"][0]
        self.queries.append(query)
        if self.down:
            return httpx.Response(
                503, json={"status": "error", "errorType": "unavailable", "error": "TSDB closed"}
            )
        at = float(form["time"][0])
        variant = query.split('variant="')[1].split('"')[0]
        value = [at, f"{self.errors[variant]:g}"]
        result = [{"metric": {}, "value": value}]
        return httpx.Response(
            200, json={"status": "success", "data": {"resultType": "vector", "result": result}}
        )


def answer(data: Any, status: int = 200) -> httpx.Client:
    return httpx.Client(transport=httpx.MockTransport(lambda _: httpx.Response(status, json=data)))


@pytest.fixture
def prometheus() -> FakePrometheus:
    return FakePrometheus()


@pytest.fixture
def service(
    store: Store, flags: MemoryFlags, clock: Clock, prometheus: FakePrometheus
) -> RolloutService:
    # The fake's host is allowed explicitly, as an operator would; it "resolves" to a public
    # address, where the guard then sends each request.
    outbound = OutboundPolicy.build(["prometheus:9090"], resolve=lambda *_: [PUBLIC])
    guarded = GuardedTransport(outbound, httpx.MockTransport(prometheus))
    http = httpx.Client(transport=guarded)
    return RolloutService(store, flags, clock, prometheus=http, outbound=outbound)


def exposures(service: RolloutService, on: int, off: int) -> None:
    service.ingest(
        ENV,
        [
            {"flag": "new-checkout", "variant": "on", "metric": "$exposures", "n": on},
            {"flag": "new-checkout", "variant": "off", "metric": "$exposures", "n": off},
        ],
    )


def prometheus_plan(**overrides: object) -> Any:
    return plan(**{"prometheus_url": URL, "prometheus_queries": {"errors": QUERY}, **overrides})


def test_events_counted_by_prometheus_roll_a_harmful_change_back(
    service: RolloutService, prometheus: FakePrometheus, clock: Clock, store: Store
) -> None:
    # Given a rollout whose `errors` only Prometheus knows (no sample ever reached Headway)
    service.start(prometheus_plan(), actor="ana")
    # And a harmless first look: 0.1 % errors on both variants (2 of 2,000, 18 of 18,000)
    exposures(service, 2000, 18000)
    prometheus.errors = {"on": 2, "off": 18}
    clock.advance(minutes=1)
    assert service.tick() == []
    # When, by the next look, treatment has 80 errors in all and control 180
    prometheus.errors = {"on": 80, "off": 180}
    clock.advance(minutes=2)
    (rolled,) = service.tick()
    # Then 80 / 2,000 = 4 % against 180 / 18,000 = 1 %: rolled back, as in test_controller
    assert rolled.state == State.ROLLED_BACK
    assert "4.00% on treatment against 1.00% on control" in (rolled.reason or "")
    # Each query asked for one variant's events since the start: 3 minutes = 180 s.
    assert prometheus.queries[-2:] == [
        'sum(increase(checkout_errors_total{variant="on"}[180s]))',
        'sum(increase(checkout_errors_total{variant="off"}[180s]))',
    ]
    # The second answer replaced the first: 80, not 2 + 80.
    g = guardrail_samples.c
    rows = store.rows(
        select(g.variant, func.sum(g.total))
        .where(g.metric == "errors")
        .group_by(g.variant)
        .order_by(g.variant)
    )
    assert [(r[0], float(r[1])) for r in rows] == [("off", 180.0), ("on", 80.0)]


def test_a_stage_waits_while_prometheus_cannot_answer(
    service: RolloutService, prometheus: FakePrometheus, clock: Clock
) -> None:
    service.start(prometheus_plan(), actor="ana")
    exposures(service, 2000, 18000)
    prometheus.down = True
    # Past the 10 minutes and 1,000 treatment exposures the stage needs, it still waits.
    clock.advance(minutes=15)
    assert service.tick() == []
    rollout, _ = service.status("new-checkout", ENV)
    assert rollout.state == State.RUNNING
    assert rollout.percent == 10
    judged = {d["check"]: d for d in rollout.as_dict()["judgement"]}
    assert judged["prometheus"]["verdict"] == "insufficient_data"
    assert "TSDB closed" in judged["prometheus"]["explanation"]
    # When Prometheus answers again with equal error rates, the stage moves on.
    prometheus.down = False
    prometheus.errors = {"on": 20, "off": 180}
    (moved,) = service.tick()
    assert moved.percent == 50


def test_plans_with_unusable_prometheus_queries_are_refused() -> None:
    with pytest.raises(PlanError, match="no \\$variant"):
        prometheus_plan(prometheus_queries={"errors": "sum(errors_total)"})
    with pytest.raises(PlanError, match="need --prometheus-url"):
        plan(prometheus_queries={"errors": QUERY})
    with pytest.raises(PlanError, match="guard it as a rate"):
        prometheus_plan(guardrails=["errors:mean:increase:0%:rollback"])
    with pytest.raises(PlanError, match="guards nothing"):
        prometheus_plan(prometheus_queries={"errors": QUERY, "timeouts": QUERY})


def test_instant_query_reads_each_documented_answer() -> None:
    success = {"status": "success"}
    # A scalar: [time, "value"].
    scalar = {**success, "data": {"resultType": "scalar", "result": [1.0, "7"]}}
    assert instant_query(answer(scalar), URL, "q", AT) == 7.0
    # A vector of two series is summed (3 + 4); an empty vector means no events.
    two = [{"metric": {"a": "1"}, "value": [1.0, "3"]}, {"metric": {}, "value": [1.0, "4"]}]
    vector = {**success, "data": {"resultType": "vector", "result": two}}
    assert instant_query(answer(vector), URL, "q", AT) == 7.0
    empty = {**success, "data": {"resultType": "vector", "result": []}}
    assert instant_query(answer(empty), URL, "q", AT) == 0.0
    refusals = [
        (answer({**success, "data": {"resultType": "matrix", "result": []}}), "gave a matrix"),
        (answer({**success, "data": {"resultType": "scalar", "result": [1.0, "NaN"]}}), "NaN"),
        (answer({"status": "error", "error": "parse error"}, 400), "parse error"),
        (
            httpx.Client(transport=httpx.MockTransport(lambda _: httpx.Response(502))),
            "answered 502 without JSON",
        ),
    ]
    for client, message in refusals:
        with pytest.raises(PrometheusError, match=message):
            instant_query(client, URL, "q", AT)


def test_a_prometheus_the_operator_does_not_allow_is_never_asked(
    store: Store, flags: MemoryFlags, clock: Clock, prometheus: FakePrometheus
) -> None:
    resolved = [PUBLIC]
    outbound = OutboundPolicy.build(["prometheus:9090"], resolve=lambda *_: list(resolved))
    guarded = GuardedTransport(outbound, httpx.MockTransport(prometheus))
    service = RolloutService(
        store, flags, clock, prometheus=httpx.Client(transport=guarded), outbound=outbound
    )
    # Given a plan naming a host that is not in HEADWAY_OUTBOUND_HOSTS, Then it is refused
    with pytest.raises(PlanError, match=r"prometheus_url: 169\.254\.169\.254:80 is not an allowed"):
        service.start(prometheus_plan(prometheus_url="http://169.254.169.254/"), actor="ana")
    # Given an allowed host whose name later resolves to the metadata service
    service.start(prometheus_plan(), actor="ana")
    exposures(service, 2000, 18000)
    resolved[:] = ["169.254.169.254"]
    clock.advance(minutes=15)
    # Then no query is sent, and the stage waits, saying why.
    assert service.tick() == []
    assert prometheus.queries == []
    rollout, _ = service.status("new-checkout", ENV)
    judged = {d["check"]: d for d in rollout.as_dict()["judgement"]}
    assert judged["prometheus"]["verdict"] == "insufficient_data"
    assert "prometheus is at 169.254.169.254" in judged["prometheus"]["explanation"]
