"""Sticky bucketing: raising a percentage keeps everyone in; reweighting moves the fewest users."""

from __future__ import annotations

from itertools import pairwise
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from headway.flags.bucketing import (
    bucket_of,
    contiguous_allocation,
    moved_buckets,
    owned_buckets,
    rebalance,
    salt_seed,
    variant_at,
)
from headway.flags.evaluate import compile_flag
from headway.flags.model import BUCKETS, WeightedVariant

from .conftest import boolean_flag, split


def _weights(parts: list[int], names: str = "abcdef") -> list[WeightedVariant]:
    # `parts` are bucket counts summing to BUCKETS; weight is in percent
    return [WeightedVariant(variant=names[i], weight=n / 1000) for i, n in enumerate(parts)]


@st.composite
def bucket_counts(draw: st.DrawFn, k: int) -> list[int]:
    cuts = sorted(draw(st.lists(st.integers(0, BUCKETS), min_size=k - 1, max_size=k - 1)))
    edges = [0, *cuts, BUCKETS]
    return [b - a for a, b in pairwise(edges)]


def test_buckets_are_stable_and_in_range() -> None:
    seed = salt_seed("new-checkout")
    # Given the same subject twice, Then the same bucket; all buckets lie in 0..99,999
    assert bucket_of(seed, "user-1") == bucket_of(seed, "user-1")
    assert all(0 <= bucket_of(seed, f"user-{i}") < BUCKETS for i in range(1000))


def test_split_shares_are_close_to_weights() -> None:
    # Given a 25 % split and 20,000 users: binomial sd = sqrt(20000*0.25*0.75) = 61.2,
    # so 5 sd is 306 users (1.53 points) around the expected 5,000.
    flag = compile_flag(boolean_flag(default=split(25)), "production")
    on = sum(flag.evaluate({"targetingKey": f"user-{i}"}).value for i in range(20_000))
    assert abs(on - 5_000) <= 306


def test_different_salts_bucket_independently() -> None:
    # Two 50 % flags with different salts agree on about half the users (sd = 70.7 of 20,000 / 2)
    a = compile_flag(boolean_flag("a", default=split(50)), "production")
    b = compile_flag(boolean_flag("b", default=split(50)), "production")
    same = sum(
        a.evaluate({"targetingKey": str(i)}).value == b.evaluate({"targetingKey": str(i)}).value
        for i in range(20_000)
    )
    assert abs(same - 10_000) <= 354


@settings(max_examples=200, deadline=None)
@given(lo=st.integers(0, BUCKETS), hi=st.integers(0, BUCKETS), layout=st.booleans())
def test_raising_a_percentage_keeps_everyone_already_in(lo: int, hi: int, layout: bool) -> None:
    lo, hi = sorted((lo, hi))
    before = contiguous_allocation(_weights([lo, BUCKETS - lo]))
    if layout:  # start from a fragmented history rather than the fresh layout
        before = rebalance(
            rebalance(before, _weights([BUCKETS - lo, lo])), _weights([lo, BUCKETS - lo])
        )
    after = rebalance(before, _weights([hi, BUCKETS - hi]))
    for start, end, variant in before:
        if variant == "a":
            assert variant_at(after, start) == "a"
            assert variant_at(after, end - 1) == "a"
            assert all(variant_at(after, s) == "a" for s, _, v in after if start <= s < end)


@settings(max_examples=300, deadline=None)
@given(data=st.data(), k=st.integers(1, 5), steps=st.integers(1, 4))
def test_reweighting_moves_the_fewest_possible_buckets(
    data: st.DataObject, k: int, steps: int
) -> None:
    allocation = contiguous_allocation(_weights(data.draw(bucket_counts(k))))
    for _ in range(steps):
        target = data.draw(bucket_counts(k))
        owned = owned_buckets(allocation)
        after = rebalance(allocation, _weights(target))
        # Then each variant owns exactly its new share...
        assert owned_buckets(after) == {"abcdef"[i]: n for i, n in enumerate(target) if n}
        # ...the ranges tile 0..BUCKETS...
        assert [s for s, _, _ in after] == [0, *(e for _, e, _ in after[:-1])]
        assert after[-1][1] == BUCKETS
        # ...and only the growth had to move: sum of max(0, new - old) over variants.
        lower_bound = sum(max(0, n - owned.get("abcdef"[i], 0)) for i, n in enumerate(target))
        assert moved_buckets(allocation, after) == lower_bound
        allocation = after


def test_rebalance_worked_example() -> None:
    # Given a/b/c at 33/33/34 laid out a:[0,33000) b:[33000,66000) c:[66000,100000)
    before = contiguous_allocation(_weights([33_000, 33_000, 34_000]))
    # When weights become 50/25/25: b gives up 8,000 and c 9,000 (their highest buckets)
    after = rebalance(before, _weights([50_000, 25_000, 25_000]))
    # Then a takes the freed 58000-66000 and 91000-100000 ranges; 17,000 buckets move
    assert after == [
        (0, 33_000, "a"),
        (33_000, 58_000, "b"),
        (58_000, 66_000, "a"),
        (66_000, 91_000, "c"),
        (91_000, 100_000, "a"),
    ]
    assert moved_buckets(before, after) == 17_000


def test_buckets_never_change_for_existing_users() -> None:
    # Stickiness across releases: these buckets were assigned when bucketing shipped (xxh3-64 of
    # the UTF-8 subject, seeded with xxh64 of the salt, mod 100,000). If this test fails, an
    # upgrade would move users between variants.
    seed = salt_seed("new-checkout")
    assert seed == 18395272843343758215
    subjects = ("user-1", "user-2", "acme", "42", "é")
    assert [bucket_of(seed, s) for s in subjects] == [21769, 40501, 54979, 36803, 86512]
    # Given a 25 % split (on owns buckets 0..24,999) and one at 40 % (0..39,999)
    quarter = compile_flag(boolean_flag(default=split(25)), "production")
    forty = compile_flag(boolean_flag(default=split(40, bucket_by="org.id")), "production")
    # Then user-1 (21,769) is on and user-2 (40,501) off at 25 %
    assert quarter.evaluate({"targetingKey": "user-1"}).variant == "on"
    assert quarter.evaluate({"targetingKey": "user-2"}).variant == "off"
    # And an organisation id given as the number 42 buckets as "42" (36,803): on at 40 %
    assert forty.evaluate({"org": {"id": 42}}).variant == "on"
    assert forty.evaluate({"org": {"id": "acme"}}).variant == "off"  # 54,979


def _striped(edges: list[int]) -> dict[str, Any]:
    """A split whose ranges cut 0..100,000 at `edges`, alternately on and off."""
    allocation = [(a, b, "off" if i % 2 else "on") for i, (a, b) in enumerate(pairwise(edges))]
    owned = owned_buckets(allocation)
    weights = [{"variant": v, "weight": owned.get(v, 0) / 1000} for v in ("on", "off")]
    return {"split": {"weights": weights, "allocation": allocation}}


def test_a_bucket_on_a_range_boundary_belongs_to_the_range_it_starts() -> None:
    # user-1's bucket is 21,769 (pinned above). Ranges are half-open, [start, end).
    def variant(default: dict[str, Any]) -> str | None:
        flag = compile_flag(boolean_flag(default=default), "production")
        return flag.evaluate({"targetingKey": "user-1"}).variant

    # Given on owning [0, 21,769), Then user-1 is off; with [0, 21,770), on
    assert variant(split(21.769)) == "off"
    assert variant(split(21.770)) == "on"
    # The same with ten ranges, alternately on and off (the evaluator bisects when there are
    # more than eight): [16,000, 21,769) is on (the ninth) and [21,769, 100,000) off
    stripes = [0, 2_000, 4_000, 6_000, 8_000, 10_000, 12_000, 14_000, 16_000]
    assert variant(_striped([*stripes, 21_769, 100_000])) == "off"
    assert variant(_striped([*stripes, 21_770, 100_000])) == "on"
