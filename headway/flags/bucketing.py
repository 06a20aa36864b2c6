"""Sticky, deterministic bucketing into 100,000 buckets and minimal-movement reallocation.

A subject's bucket is xxh3(bucket-by value, seed = hash of the flag's salt) mod 100,000, so it
never changes while the salt stays. Each split owns bucket *ranges* per variant; when weights
change, `rebalance` takes buckets only from variants that shrink and gives them only to variants
that grow, so exactly sum(max(0, new - old)) buckets change hands, the least possible.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Iterable, Sequence
from itertools import pairwise
from typing import Protocol

import xxhash

BUCKETS = 100_000  # one bucket is 0.001 % of traffic

__all__ = [
    "BUCKETS",
    "Allocation",
    "bucket_of",
    "contiguous_allocation",
    "moved_buckets",
    "owned_buckets",
    "rebalance",
    "salt_seed",
    "variant_at",
]

Allocation = list[tuple[int, int, str]]  # (start, end exclusive, variant), tiling 0..BUCKETS


class _Weighted(Protocol):
    @property
    def variant(self) -> str: ...
    @property
    def buckets(self) -> int: ...


def salt_seed(salt: str) -> int:
    """The 64-bit hash seed derived from a flag's salt (computed once per compiled flag)."""
    return xxhash.xxh64_intdigest(salt.encode())


def bucket_of(seed: int, value: str) -> int:
    """The bucket, 0..99,999, of one subject for one flag."""
    return xxhash.xxh3_64_intdigest(value.encode(), seed) % BUCKETS


def contiguous_allocation(weights: Iterable[_Weighted]) -> Allocation:
    """Ranges laid out in the order the weights are listed; zero weights own nothing."""
    out: Allocation = []
    start = 0
    for w in weights:
        if w.buckets:
            out.append((start, start + w.buckets, w.variant))
            start += w.buckets
    return out


def owned_buckets(allocation: Iterable[tuple[int, int, str]]) -> dict[str, int]:
    owned: dict[str, int] = {}
    for start, end, variant in allocation:
        owned[variant] = owned.get(variant, 0) + end - start
    return owned


def _normalise(ranges: Iterable[tuple[int, int, str]]) -> Allocation:
    out: Allocation = []
    for start, end, variant in sorted(ranges):
        if end <= start:
            continue
        if out and out[-1][2] == variant and out[-1][1] == start:
            out[-1] = (out[-1][0], end, variant)
        else:
            out.append((start, end, variant))
    return out


def rebalance(previous: Sequence[tuple[int, int, str]], weights: Iterable[_Weighted]) -> Allocation:
    """New allocation for `weights` that keeps every bucket whose variant need not change.

    Shrinking variants give up their highest buckets first; growing variants take freed
    buckets lowest first, in the order the weights are listed.
    """
    target = {w.variant: w.buckets for w in weights}
    owned = owned_buckets(previous)
    kept: Allocation = []
    free: list[tuple[int, int]] = []
    to_release = {v: max(0, n - target.get(v, 0)) for v, n in owned.items()}
    for start, end, variant in sorted(previous, reverse=True):
        give = min(to_release[variant], end - start)
        to_release[variant] -= give
        if give:
            free.append((end - give, end))
        kept.append((start, end - give, variant))
    free.sort()
    for variant, n in target.items():
        need = n - owned.get(variant, 0)
        while need > 0:
            start, end = free.pop(0)
            take = min(need, end - start)
            kept.append((start, start + take, variant))
            if take < end - start:
                free.insert(0, (start + take, end))
            need -= take
    return _normalise(kept)


def moved_buckets(
    before: Sequence[tuple[int, int, str]], after: Sequence[tuple[int, int, str]]
) -> int:
    """How many buckets are served a different variant in `after` than in `before`."""
    cuts = sorted({0, BUCKETS, *(s for s, _, _ in before), *(s for s, _, _ in after)})
    moved = 0
    for lo, hi in pairwise(cuts):
        if variant_at(before, lo) != variant_at(after, lo):
            moved += hi - lo
    return moved


def variant_at(allocation: Sequence[tuple[int, int, str]], bucket: int) -> str | None:
    """The variant owning `bucket` (slow path; `evaluate` precomputes a bisect table)."""
    i = bisect_right([s for s, _, _ in allocation], bucket) - 1
    if i < 0 or bucket >= allocation[i][1]:
        return None
    return allocation[i][2]
