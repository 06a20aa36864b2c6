"""Release lead time: from a change's start (the definition's lead-time start) to the moment
it reached every user.

Deploying and releasing come apart when a pull request ships behind a flag. An unflagged
change reaches users when the deployment that ships it finishes. A change whose pull request
added or used flags (`github_pull_flags`) reaches them when the last of those flags serves one
variant, not its off variant, to everyone in the deployment's environment: at the deployment
when the flag already did, else at the first later version that made it so (by hand, by a
finished rollout or by a release plan). Until then the change is *unreleased*: counted, never
measured. A flag Headway does not hold gates nothing (it is listed by `flags refs` as unknown).

Release lead time is the change's lead time plus its deploy-to-release time, so the two agree
on where the clock starts and on what a negative lead time leaves out.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import UTC, datetime
from itertools import groupby
from typing import Any

import numpy as np

from headway.definitions import Definition
from headway.flags.lifecycle import RELEASE_ENVIRONMENT, Stamped, environment_state
from headway.flags.store import load_histories
from headway.metrics.queries.release import release_rows
from headway.metrics.scope import Period
from headway.store import Store

__all__ = ["Histories", "empty_figure", "release_figures", "release_moment", "summarise"]

# A flag key → its versions, oldest first; a key Headway does not hold maps to nothing.
Histories = Callable[[str], Sequence[Stamped]]


def release_moment(
    history: Sequence[Stamped], environment: str, deployed: datetime
) -> datetime | None:
    """When a change deployed at `deployed` reached everyone behind this flag: `deployed` if
    the flag served one variant (not off) to everyone in `environment` then, else the first
    later version that did; None while it has not. A flag without that environment is read
    in the release environment (production)."""
    if not history:
        return deployed
    if environment not in history[-1].flag.environments:
        environment = RELEASE_ENVIRONMENT
    on_at_deploy = False
    for stamped in history:
        env = stamped.flag.environments.get(environment)
        on = env is not None and environment_state(env) == "on"
        if stamped.at <= deployed:
            on_at_deploy = on
        elif on_at_deploy:
            return deployed
        elif on:
            return stamped.at
    return deployed if on_at_deploy else None


def summarise(
    rows: Iterable[tuple[Any, ...]], histories: Histories, defn: Definition
) -> dict[Any, dict[str, Any]]:
    """The release lead time figure per group from `release_rows`' rows (ordered by change)."""
    spans: dict[Any, list[tuple[float, float | None]]] = {}
    counts: dict[Any, dict[str, int]] = {}
    for (grp, _change), change_rows in groupby(rows, key=lambda row: (row[0], row[1])):
        first, *rest = list(change_rows)
        _, _, lead, negative, finished, environment, flag = first
        count = counts.setdefault(grp, {"flagged": 0, "unreleased": 0, "negative": 0})
        spans.setdefault(grp, [])
        if negative or lead is None:
            count["negative"] += int(bool(negative))
            continue
        keys = [k for k in [flag, *(row[6] for row in rest)] if k is not None]
        if not keys:
            spans[grp].append((float(lead), None))
            continue
        deployed = _aware(finished)
        count["flagged"] += 1
        moments = [release_moment(histories(key), environment, deployed) for key in keys]
        if any(m is None for m in moments):
            count["unreleased"] += 1
            continue
        delay = (max(m for m in moments if m is not None) - deployed).total_seconds()
        spans[grp].append((float(lead) + delay, delay))
    return {grp: _figure(defn, spans[grp], counts[grp]) for grp in counts}


def release_figures(
    store: Store,
    defn: Definition,
    names: list[str],
    period: Period,
    group: str,
    leads: Mapping[Any, Mapping[str, Any]] | None = None,
) -> dict[Any, dict[str, Any]]:
    """Release lead time per group key (`organisation` for the whole of `names`).

    A group none of whose shipped changes is flagged has released each at its deployment:
    its figure is its change lead time (`leads`, the rows `dora_queries.aggregate` summed in
    the database), with no per-change work. Only groups with a flagged change are read change
    by change."""
    if not names:
        return {}
    window = (period.since, period.until)
    flagged = {row[0] for row in release_rows(store, defn, names, *window, group, flagged=True)}
    out = {grp: _as_released(lead) for grp, lead in (leads or {}).items() if grp not in flagged}
    if not flagged:
        return out
    cache: dict[str, Sequence[Stamped]] = {}

    def histories(key: str) -> Sequence[Stamped]:
        if key not in cache:
            cache[key] = load_histories(store, key).get(key, [])
        return cache[key]

    rows = release_rows(store, defn, names, *window, group)
    found = summarise((row for row in rows if row[0] in flagged), histories, defn)
    return {**out, **found}


def _as_released(lead: Mapping[str, Any]) -> dict[str, Any]:
    """The figure of a group with nothing flagged: its change lead time, released at once."""
    figure = empty_figure()
    stats = {k: None if lead[k] is None else round(float(lead[k]), 3) for k in _STATS}
    figure.update(changes=int(lead["n"]), negative=int(lead["negative"] or 0), **stats)
    if lead["n"]:
        figure["reason"] = None
    return figure


def empty_figure() -> dict[str, Any]:
    return _figure_of([], {"flagged": 0, "unreleased": 0, "negative": 0}, "interpolated")


def _figure(
    defn: Definition, spans: list[tuple[float, float | None]], counts: Mapping[str, int]
) -> dict[str, Any]:
    return _figure_of(spans, counts, defn.summary.median)


def _figure_of(
    spans: list[tuple[float, float | None]], counts: Mapping[str, int], method: str
) -> dict[str, Any]:
    released = [total for total, _ in spans]
    delays = [delay for _, delay in spans if delay is not None]
    reason = None
    if not spans:
        reason = (
            f"every flagged change is waiting for its flag to reach everyone "
            f"({counts['unreleased']} unreleased)"
            if counts["unreleased"]
            else "no change was shipped in this period"
        )
    return {
        "changes": len(spans),
        "flagged": counts["flagged"],
        "unreleased": counts["unreleased"],
        **_stats(released, method),
        "deploy_to_release": {"changes": len(delays), **_stats(delays, method)},
        "reason": reason,
        "negative": counts["negative"],
    }


_STATS = ("median_s", "p75_s", "p90_s", "mean_s")


def _stats(values: list[float], method: str) -> dict[str, float | None]:
    """median, p75, p90 and mean as the SQL of the other figures takes them: interpolated
    (percentile_cont) or the lower value (percentile_disc), with `mean` for the median."""
    if not values:
        return {"median_s": None, "p75_s": None, "p90_s": None, "mean_s": None}
    arr = np.asarray(values, dtype=float)
    if method == "lower":
        quantiles = np.percentile(arr, [50, 75, 90], method="inverted_cdf")
    else:
        quantiles = np.percentile(arr, [50, 75, 90], method="linear")
    p50, p75, p90 = (float(v) for v in quantiles)
    mean = float(arr.mean())
    return {
        "median_s": round(mean if method == "mean" else p50, 3),
        "p75_s": round(p75, 3),
        "p90_s": round(p90, 3),
        "mean_s": round(mean, 3),
    }


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
