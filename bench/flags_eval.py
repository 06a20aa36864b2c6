"""Local flag-evaluation latency: Headway's SDK against peer SDKs, same scenarios, same run.

    pip install -e '.[bench]' && python bench/flags_eval.py [--seconds 0.5]

Scenarios (every SDK configured offline, from an in-memory document, no network):
  simple  a boolean flag on for everyone
  split   on for 25 % of users, bucketed by user id
  rule    on when country in {FR, DE} and plan == "pro", otherwise a 10 % split by user id

Each SDK evaluates the same stream of 1,000 distinct users round-robin, each user's context
built once, before any timing, in the form that SDK's users pass it (a dict for Headway, an
`EvaluationContext` for OpenFeature, attributes for GrowthBook, an evaluation context for
Flagsmith's engine, a context dict for Unleash): the timed loop is the evaluation call alone,
for every library alike. Headway is timed both directly and through OpenFeature's client, and
each is compared with peers called the same way. Latency per call is
measured in batches of 100 calls (time.perf_counter_ns around the batch / 100), so the timer's
own cost is spread thin; p50 and p99 are over batches. Measurements are interleaved in many
short rounds (every SDK and scenario once per round, about 25 ms each) so that load from other
processes falls on all alike, and each ratio to a peer is the median of per-round ratios: the
two were measured milliseconds apart, so a slow spell of the machine cancels out.
Before timing, each SDK's answers are checked against the scenario's intent (share of users
served `on`) so no SDK is timed doing something else.
"""

from __future__ import annotations

import argparse
import gc
import logging
import statistics
import sys
import time
import warnings
from collections.abc import Callable
from typing import Any, NamedTuple

import xxhash

Eval = Callable[[Any], bool]


class Sdk(NamedTuple):
    """How one SDK is called: `prepare` turns a user into that SDK's evaluation context (run
    once per user, before timing), `run` evaluates the flag for one prepared context."""

    prepare: Callable[[dict[str, Any]], Any]
    run: Eval


def _as_is(user: dict[str, Any]) -> dict[str, Any]:
    return user


SCENARIOS = ("simple", "split", "rule")
USERS = [
    {
        "targetingKey": f"user-{i}",
        "userId": f"user-{i}",
        "country": ("FR", "DE", "US", "GB")[i % 4],
        "plan": ("pro", "free")[i % 2 == 0 or i % 3 == 0],
    }
    for i in range(1000)
]
# Expected share of users served `on`, for the sanity check: simple 1.0; split ~0.25;
# rule: country FR (i%4==0) or DE (i%4==1), and pro needs i odd and i%3 != 0. Among i%4 in {0,1}
# the odd ones are i%4==1 (250 users), of which a third are multiples of 3 -> ~167 pro matches,
# plus ~10 % of the remaining ~833 -> ~83, so ~0.25 overall.
SPEEDUP_GOAL = 5.0  # times faster than the fastest peer, per scenario
EXPECTED_ON = {"simple": (1.0, 1.0), "split": (0.20, 0.30), "rule": (0.20, 0.30)}


# --- Headway -------------------------------------------------------------------------------------


def _headway_client(scenario: str, telemetry: bool = False) -> Any:
    import httpx

    from headway.sdk import Client

    weights = {
        "simple": None,
        "split": [{"variant": "on", "weight": 25}, {"variant": "off", "weight": 75}],
        "rule": [{"variant": "on", "weight": 10}, {"variant": "off", "weight": 90}],
    }[scenario]
    env: dict[str, Any] = {
        "enabled": True,
        "off_variant": "off",
        "default": {"variant": "on"} if weights is None else {"split": {"weights": weights}},
    }
    if scenario == "rule":
        env["rules"] = [
            {
                "conditions": [
                    {"attribute": "country", "operator": "in", "value": ["FR", "DE"]},
                    {"attribute": "plan", "operator": "eq", "value": "pro"},
                ],
                "serve": {"variant": "on"},
            }
        ]
    flag = {
        "key": "f",
        "type": "boolean",
        "owner": "bench",
        "lifecycle": {"kind": "permanent"},
        "variants": [{"key": "on", "value": True}, {"key": "off", "value": False}],
        "environments": {"production": env},
    }
    bootstrap = {"format": 1, "environment": "production", "flags": [flag], "segments": []}
    if not telemetry:
        return Client(offline=True, bootstrap=bootstrap)
    # An online client (exposure counts and served variants recorded for sending) whose server
    # does not answer, so that it keeps serving its bootstrap: still no network in the loop.
    return Client(
        "http://headway.invalid",
        "hws_bench",
        bootstrap=bootstrap,
        stream=False,
        poll_interval=3600,
        flush_interval=0,
        transport=httpx.MockTransport(lambda request: httpx.Response(503)),
    )


def headway(scenario: str) -> Sdk:
    boolean = _headway_client(scenario).boolean
    return Sdk(_as_is, lambda ctx: boolean("f", False, ctx))


def headway_telemetry(scenario: str) -> Sdk:
    """Headway's SDK as an online client evaluates: each call also counts its exposure and
    remembers the variant served for `track()`. Not counted in the comparison with peers, which
    are all measured offline with their own telemetry off."""
    boolean = _headway_client(scenario, telemetry=True).boolean
    return Sdk(_as_is, lambda ctx: boolean("f", False, ctx))


def headway_evaluator(scenario: str) -> Sdk:
    """Headway's compiled evaluator alone (`headway.flags.evaluate.compile_flag`), without the
    SDK's exposure counting and served-variant memory: not what an application calls, but it
    shows what that telemetry costs. Not counted in the comparison with peers."""
    from headway.flags.evaluate import compile_flag

    snapshot = _headway_client(scenario).snapshot
    assert snapshot is not None
    evaluate = compile_flag(snapshot.definitions["f"], snapshot.environment).evaluate
    return Sdk(_as_is, lambda ctx: bool(evaluate(ctx).value))


def _evaluation_context(user: dict[str, Any]) -> Any:
    from openfeature.evaluation_context import EvaluationContext

    return EvaluationContext(
        user["targetingKey"], {"country": user["country"], "plan": user["plan"]}
    )


def _through_openfeature(provider: Any, domain: str) -> Sdk:
    """Evaluate through OpenFeature's client API, as an application would."""
    from openfeature import api

    api.set_provider_and_wait(provider, domain)
    get = api.get_client(domain).get_boolean_value
    return Sdk(_evaluation_context, lambda ec: get("f", False, ec))


def headway_openfeature(scenario: str) -> Sdk:
    from headway.sdk.openfeature import HeadwayProvider

    return _through_openfeature(HeadwayProvider(_headway_client(scenario)), f"hw-{scenario}")


# --- GrowthBook ----------------------------------------------------------------------------------


def growthbook(scenario: str) -> Sdk:
    from growthbook import GrowthBook

    rules: list[dict[str, Any]] = {
        "simple": [],
        "split": [{"force": True, "coverage": 0.25, "hashAttribute": "id"}],
        "rule": [
            {"condition": {"country": {"$in": ["FR", "DE"]}, "plan": "pro"}, "force": True},
            {"force": True, "coverage": 0.10, "hashAttribute": "id"},
        ],
    }[scenario]
    default = scenario == "simple"
    gb = GrowthBook(features={"f": {"defaultValue": default, "rules": rules}})

    def prepare(user: dict[str, Any]) -> dict[str, Any]:
        return {"id": user["userId"], "country": user["country"], "plan": user["plan"]}

    def run(attributes: dict[str, Any]) -> bool:
        # One GrowthBook serves user after user: each gets its attributes, then is asked.
        gb.set_attributes(attributes)
        return bool(gb.is_on("f"))

    return Sdk(prepare, run)


# --- Flagsmith engine ----------------------------------------------------------------------------


def flagsmith(scenario: str) -> Sdk:
    from flag_engine.engine import get_evaluation_result

    feature = {"key": "1", "name": "f", "enabled": scenario == "simple", "value": None}
    on = [{"key": "1", "name": "f", "enabled": True, "value": None, "priority": 0}]
    segments: dict[str, Any] = {}
    if scenario == "split":
        segments["s"] = {
            "key": "s",
            "name": "rollout",
            "rules": [
                {
                    "type": "ALL",
                    "conditions": [{"property": "", "operator": "PERCENTAGE_SPLIT", "value": "25"}],
                }
            ],
            "overrides": on,
        }
    elif scenario == "rule":
        segments["r"] = {
            "key": "r",
            "name": "eu-pro",
            "rules": [
                {
                    "type": "ALL",
                    "conditions": [
                        {"property": "country", "operator": "IN", "value": ["FR", "DE"]},
                        {"property": "plan", "operator": "EQUAL", "value": "pro"},
                    ],
                }
            ],
            "overrides": on,
        }
        segments["s"] = {
            "key": "s",
            "name": "rest",
            "rules": [
                {
                    "type": "ALL",
                    "conditions": [{"property": "", "operator": "PERCENTAGE_SPLIT", "value": "10"}],
                }
            ],
            "overrides": [{**on[0], "priority": 1}],
        }
    base = {
        "environment": {"key": "k", "name": "production"},
        "features": {"f": feature},
        "segments": segments,
    }

    def prepare(user: dict[str, Any]) -> dict[str, Any]:
        traits = {"country": user["country"], "plan": user["plan"]}
        return {**base, "identity": {"identifier": user["userId"], "traits": traits}}

    def run(context: dict[str, Any]) -> bool:
        return bool(get_evaluation_result(context)["flags"]["f"]["enabled"])  # type: ignore[arg-type]

    return Sdk(prepare, run)


# --- Unleash -------------------------------------------------------------------------------------


def unleash(scenario: str) -> Sdk:
    from UnleashClient import UnleashClient
    from UnleashClient.cache import FileCache

    strategies: list[dict[str, Any]] = {
        "simple": [{"name": "default", "parameters": {}}],
        "split": [
            {
                "name": "flexibleRollout",
                "parameters": {"rollout": "25", "stickiness": "userId", "groupId": "f"},
            }
        ],
        "rule": [
            {
                "name": "default",
                "parameters": {},
                "constraints": [
                    {"contextName": "country", "operator": "IN", "values": ["FR", "DE"]},
                    {"contextName": "plan", "operator": "IN", "values": ["pro"]},
                ],
            },
            {
                "name": "flexibleRollout",
                "parameters": {"rollout": "10", "stickiness": "userId", "groupId": "f"},
            },
        ],
    }[scenario]
    cache = FileCache(f"headway-bench-{scenario}")
    cache.bootstrap_from_dict(
        {"version": 1, "features": [{"name": "f", "enabled": True, "strategies": strategies}]}
    )
    client = UnleashClient(
        url="http://127.0.0.1:9/unused",
        app_name="headway-bench",
        disable_metrics=True,
        disable_registration=True,
        cache=cache,
        multiple_instance_mode=_unleash_allow(),
    )
    client.initialize_client(fetch_toggles=False)

    def prepare(user: dict[str, Any]) -> dict[str, Any]:
        properties = {"country": user["country"], "plan": user["plan"]}
        return {"userId": user["userId"], "properties": properties}

    return Sdk(prepare, lambda context: client.is_enabled("f", context))


def _unleash_allow() -> Any:
    from UnleashClient.utils import InstanceAllowType

    return InstanceAllowType.SILENTLY_ALLOW


# --- OpenFeature in-memory provider -------------------------------------------------------------


def openfeature_in_memory(scenario: str, via_api: bool = False) -> Sdk:
    from openfeature.evaluation_context import EvaluationContext
    from openfeature.flag_evaluation import FlagResolutionDetails, Reason
    from openfeature.provider.in_memory_provider import InMemoryFlag, InMemoryProvider

    # The in-memory provider has no targeting language: targeting is a Python callback, written
    # here the obvious way (xxh3 bucketing like Headway's, so the hash cost is the same).
    def bucket(key: str) -> int:
        return xxhash.xxh3_64_intdigest(key.encode(), 7) % 100_000

    def evaluator(flag: InMemoryFlag[bool], ctx: EvaluationContext) -> FlagResolutionDetails[bool]:
        a = ctx.attributes
        if scenario == "split":
            on = bucket(ctx.targeting_key or "") < 25_000
        else:
            on = (a.get("country") in ("FR", "DE") and a.get("plan") == "pro") or bucket(
                ctx.targeting_key or ""
            ) < 10_000
        variant = "on" if on else "off"
        return FlagResolutionDetails(flag.variants[variant], variant=variant, reason=Reason.SPLIT)

    flag = InMemoryFlag(
        "on",
        {"on": True, "off": False},
        context_evaluator=None if scenario == "simple" else evaluator,
    )
    provider = InMemoryProvider({"f": flag})
    if via_api:
        return _through_openfeature(provider, f"mem-{scenario}")
    resolve = provider.resolve_boolean_details
    return Sdk(_evaluation_context, lambda ec: bool(resolve("f", False, ec).value))


SDKS: dict[str, Callable[[str], Sdk]] = {
    "headway": headway,
    "headway-telemetry": headway_telemetry,
    "headway-evaluator": headway_evaluator,
    "growthbook": growthbook,
    "flagsmith-engine": flagsmith,
    "unleash": unleash,
    "openfeature-in-memory": openfeature_in_memory,
    # The same two through OpenFeature's client API (hooks, context merging): what an
    # application calling OpenFeature pays on top of the provider.
    "headway-via-openfeature": headway_openfeature,
    "in-memory-via-openfeature": lambda s: openfeature_in_memory(s, via_api=True),
}
OURS = {"headway", "headway-telemetry", "headway-evaluator", "headway-via-openfeature"}
# Through OpenFeature's client: compared with each other only, never with a direct call.
VIA_OPENFEATURE = ("headway-via-openfeature", "in-memory-via-openfeature")


# --- measurement ---------------------------------------------------------------------------------


def measure(
    run: Eval, contexts: list[Any], seconds: float, samples: list[float], batch: int = 100
) -> None:
    """Append per-call nanoseconds (one sample per batch of `batch` calls) to `samples`;
    `contexts` are the users as this SDK takes them, built before any timing."""
    users = contexts
    n = len(users)
    i = 0
    for ctx in users[:200]:  # warm caches
        run(ctx)
    gc.disable()
    deadline = time.perf_counter() + seconds
    try:
        while time.perf_counter() < deadline:
            chunk = [users[(i + j) % n] for j in range(batch)]
            i += batch
            t0 = time.perf_counter_ns()
            for ctx in chunk:
                run(ctx)
            samples.append((time.perf_counter_ns() - t0) / batch)
    finally:
        gc.enable()


def summarise(samples: list[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    return statistics.median(ordered), ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]


def paired_ratio(theirs: list[list[float]], ours: list[list[float]]) -> tuple[float, float, float]:
    """Median, first and third quartile of the per-round ratios of p50s (theirs / ours)."""
    ratios = sorted(
        statistics.median(t) / statistics.median(o) for t, o in zip(theirs, ours, strict=True)
    )
    q1, _, q3 = statistics.quantiles(ratios, n=4) if len(ratios) > 1 else (ratios * 3)
    return statistics.median(ratios), q1, q3


def check(name: str, scenario: str, run: Eval, contexts: list[Any]) -> None:
    share = sum(run(c) for c in contexts) / len(contexts)
    lo, hi = EXPECTED_ON[scenario]
    if not lo <= share <= hi:
        raise SystemExit(
            f"{name}/{scenario}: served `on` to {share:.1%}, expected {lo:.0%}-{hi:.0%}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=1.0, help="timing per SDK and scenario")
    parser.add_argument(
        "--rounds",
        type=int,
        default=40,
        help="interleaved rounds, so background load hits every SDK alike",
    )
    parser.add_argument("--only", nargs="*", default=list(SDKS), help="SDKs to run")
    args = parser.parse_args()
    logging.disable(logging.WARNING)
    warnings.simplefilter("ignore")

    runs: dict[tuple[str, str], tuple[Eval, list[Any]]] = {}
    for name in args.only:
        for scenario in SCENARIOS:
            try:
                sdk = SDKS[name](scenario)
            except ImportError as exc:
                print(f"skipping {name}: {exc} (pip install -e '.[bench]')", file=sys.stderr)
                break
            contexts = [sdk.prepare(user) for user in USERS]
            check(name, scenario, sdk.run, contexts)
            runs[name, scenario] = sdk.run, contexts
    rounds: dict[tuple[str, str], list[list[float]]] = {key: [] for key in runs}
    for _ in range(args.rounds):
        for key, (run, contexts) in runs.items():
            rounds[key].append([])
            measure(run, contexts, args.seconds / args.rounds, rounds[key][-1])
    results = {key: summarise([x for r in values for x in r]) for key, values in rounds.items()}

    print(f"Python {sys.version.split()[0]}, ns per evaluation (lower is better)\n")
    header = f"{'sdk':<24}" + "".join(f"{s + ' p50':>12}{s + ' p99':>12}" for s in SCENARIOS)
    print(header)
    print("-" * len(header))
    for name in args.only:
        if (name, "simple") not in results:
            continue
        row = f"{name:<24}"
        for s in SCENARIOS:
            p50, p99 = results[name, s]
            row += f"{p50:>12,.0f}{p99:>12,.0f}"
        print(row)
    peers = [
        n
        for n in args.only
        if n not in OURS and n not in VIA_OPENFEATURE and (n, "simple") in results
    ]
    if "headway" in args.only and peers:
        print(
            f"\nHeadway vs the fastest peer in the same run (median of {args.rounds} paired "
            "rounds' p50 ratios, and its middle half):"
        )
        speedups: dict[str, float] = {}
        for s in SCENARIOS:
            ours = results["headway", s][0]
            best = min(peers, key=lambda n: results[n, s][0])
            ratio, q1, q3 = paired_ratio(rounds[best, s], rounds["headway", s])
            speedups[s] = ratio
            print(
                f"  {s:<7} headway {ours:,.0f} ns; fastest peer {best} "
                f"{results[best, s][0]:,.0f} ns; {ratio:.2f}x faster ({q1:.2f}-{q3:.2f}x)"
            )
        pair = VIA_OPENFEATURE
        if all((n, "simple") in results for n in pair):
            print(
                "\nThrough OpenFeature's client API, same provider interface for both "
                "(median of paired rounds' ratios, and its middle half):"
            )
            for s in SCENARIOS:
                ours, theirs = results[pair[0], s][0], results[pair[1], s][0]
                ratio, q1, q3 = paired_ratio(rounds[pair[1], s], rounds[pair[0], s])
                print(
                    f"  {s:<7} headway provider {ours:,.0f} ns; in-memory provider "
                    f"{theirs:,.0f} ns; {ratio:.2f}x ({q1:.2f}-{q3:.2f}x)"
                )
        goals = {"simple": 2_000, "split": 5_000, "rule": 5_000}
        for s, goal in goals.items():
            ours = results["headway", s][0]
            verdict = "met" if ours <= goal else "MISSED"
            print(f"  goal {s}: p50 {ours:,.0f} ns <= {goal:,} ns: {verdict}")
        for s, ratio in speedups.items():
            verdict = "met" if ratio >= SPEEDUP_GOAL else "MISSED"
            print(f"  goal {s}: {ratio:.2f}x the fastest peer >= {SPEEDUP_GOAL:.0f}x: {verdict}")


if __name__ == "__main__":
    main()
