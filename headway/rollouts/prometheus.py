"""Guardrail events from Prometheus: one PromQL instant query per metric and variant.

A plan names, per metric, a query with `$variant` (the variant's key) and `$window` (the time
since the rollout started, like `754s`) in it, for example
`sum(increase(checkout_errors_total{variant="$variant"}[$window]))`. Its answer is the number
of events on that variant since the rollout started; the controller stores it before each
judgement, replacing the previous answer, and the exposures come from the SDK as usual.
Answers are read as the HTTP API documents them (`/api/v1/query`, `status`, `data.resultType`,
`data.result`): https://prometheus.io/docs/prometheus/latest/querying/api/
"""

from __future__ import annotations

import math
from datetime import datetime

import httpx

__all__ = ["PrometheusError", "events_since", "instant_query"]


class PrometheusError(RuntimeError):
    """Prometheus could not answer a guardrail query usefully; the message says why."""


def instant_query(http: httpx.Client, url: str, query: str, at: datetime) -> float:
    """Evaluate `query` at `at`; a vector's samples are summed, an empty vector is 0."""
    endpoint = f"{url.rstrip('/')}/api/v1/query"
    try:
        response = http.post(endpoint, data={"query": query, "time": f"{at.timestamp():.3f}"})
        body = response.json()
    except httpx.HTTPError as error:
        raise PrometheusError(f"cannot reach Prometheus at {url}: {error}") from None
    except ValueError:
        raise PrometheusError(
            f"Prometheus at {url} answered {response.status_code} without JSON"
        ) from None
    if not isinstance(body, dict) or body.get("status") != "success":
        detail = body.get("error") if isinstance(body, dict) else None
        raise PrometheusError(f"Prometheus refused {query!r}: {detail or response.status_code}")
    data = body.get("data") or {}
    kind, result = data.get("resultType"), data.get("result")
    if kind == "scalar" and isinstance(result, list) and len(result) == 2:
        values = [result[1]]
    elif kind == "vector" and isinstance(result, list):
        values = [sample.get("value", [None, None])[1] for sample in result]
    else:
        raise PrometheusError(
            f"{query!r} gave a {kind} result; a guardrail query must give a number "
            "(a scalar or an instant vector, e.g. sum(increase(...[$window])))"
        )
    total = 0.0
    for value in values:
        try:
            number = float(value)
        except (TypeError, ValueError):
            raise PrometheusError(f"{query!r} gave {value!r}, not a number") from None
        if not math.isfinite(number) or number < 0:
            raise PrometheusError(f"{query!r} gave {value}; an event count must be 0 or more")
        total += number
    return total


def events_since(
    http: httpx.Client, url: str, query: str, variant: str, started: datetime, now: datetime
) -> float:
    """Events of one variant since the rollout started, from a `$variant`/`$window` query."""
    window = max(math.ceil((now - started).total_seconds()), 1)
    promql = query.replace("$variant", variant).replace("$window", f"{window}s")
    return instant_query(http, url, promql, now)
