"""`/metrics` for Prometheus: Headway's own counters and the current DORA figures per service.

The DORA gauges cover the default period of every report, the 90 whole days up to the end of
today (UTC), under the active definition, so a gauge matches `headway metrics --each service`
and a Grafana panel over `headway_dora_*` shows how each service's numbers move day by day. They
are computed at most once per `DORA_CACHE_S` seconds, whatever the scrape rate.

With several workers `headway serve` sets PROMETHEUS_MULTIPROC_DIR before they start, so each
worker's counters live in files there and a scrape, whichever worker answers it, sums them all.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
    multiprocess,
)
from prometheus_client.core import GaugeMetricFamily, Metric

from headway import definitions
from headway.api.auth import Scraper
from headway.api.responses import AUTH_ERRORS
from headway.api.scopes import every_team
from headway.metrics import dora
from headway.store import Store

REGISTRY = CollectorRegistry(auto_describe=True)
DELIVERIES = Counter(
    "headway_webhook_deliveries",
    "Webhook deliveries by source and outcome "
    "(accepted, ignored, duplicate, rejected, refused_<status>).",
    ["source", "outcome"],
    registry=REGISTRY,
)
LATENCY = Histogram(
    "headway_webhook_latency_seconds",
    "Time from request to answer, including the commit.",
    ["source"],
    registry=REGISTRY,
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
)

WINDOW_DAYS = 90  # the default period of every report (metrics.scope)
DORA_CACHE_S = 15.0

# name, help, where in MetricSet.to_json()
_GAUGES = (
    (
        "headway_dora_deployments",
        "Deployments counted in the trailing window.",
        ("deployment_frequency", "deployments"),
    ),
    (
        "headway_dora_deployments_per_day",
        "Deployment frequency over the trailing window.",
        ("deployment_frequency", "per_day"),
    ),
    (
        "headway_dora_lead_time_median_seconds",
        "Median change lead time.",
        ("change_lead_time", "median_s"),
    ),
    (
        "headway_dora_lead_time_p90_seconds",
        "90th percentile change lead time.",
        ("change_lead_time", "p90_s"),
    ),
    (
        "headway_dora_change_fail_rate",
        "Failed deployments / deployments (0–1).",
        ("change_fail_rate", "rate"),
    ),
    (
        "headway_dora_recovery_time_median_seconds",
        "Median failed deployment recovery time.",
        ("failed_deployment_recovery_time", "median_s"),
    ),
    (
        "headway_dora_rework_rate",
        "Unplanned repair deployments / deployments (0–1).",
        ("deployment_rework_rate", "rate"),
    ),
)

router = APIRouter(tags=["health"])


class _DoraCache:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._at = 0.0
        self._families: list[Metric] = []

    def families(self, store: Store) -> list[Metric]:
        with self._lock:
            if time.monotonic() - self._at > DORA_CACHE_S:
                self._families = list(_dora_families(store))
                self._at = time.monotonic()
            return self._families


def _dora_families(store: Store) -> Iterator[Metric]:
    period = dora.default_period(WINDOW_DAYS)
    sets = dora.compute_each(store, definitions.active(store), "service", period)
    for name, doc, (metric, key) in _GAUGES:
        family = GaugeMetricFamily(name, doc, labels=["service", "context"])
        for s in sets:
            value: Any = s.to_json()[metric][key]
            if value is not None:
                family.add_metric([s.scope.name or "", ",".join(s.contexts)], float(value))
        yield family


@router.get(
    "/metrics",
    summary="Prometheus metrics",
    response_class=Response,
    responses={
        200: {
            "description": "The text exposition format",
            "content": {"text/plain": {"schema": {"type": "string"}}},
        },
        **AUTH_ERRORS,
    },
)
def prometheus_metrics(request: Request, token: Scraper) -> Response:
    every_team(token, "/metrics")
    cache: _DoraCache | None = getattr(request.app.state, "dora_cache", None)
    if cache is None:
        cache = request.app.state.dora_cache = _DoraCache()
    scrape = CollectorRegistry()
    scrape.register(_Static(cache.families(request.app.state.store)))
    return Response(
        generate_latest(_counters()) + generate_latest(scrape), media_type=CONTENT_TYPE_LATEST
    )


def _counters() -> CollectorRegistry:
    """This process's counters, or every worker's when they share a multiprocess directory."""
    if not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        return REGISTRY
    every_worker = CollectorRegistry()
    multiprocess.MultiProcessCollector(every_worker)  # type: ignore[no-untyped-call]
    return every_worker


class _Static:
    def __init__(self, families: list[Metric]) -> None:
        self._families = families

    def collect(self) -> Iterator[Metric]:
        yield from self._families


__all__ = ["DELIVERIES", "LATENCY", "REGISTRY", "router"]
