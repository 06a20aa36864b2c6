"""The per-key request limit behind 429 answers."""

from __future__ import annotations

from headway.api.ratelimit import KeyRateLimit


def test_each_key_gets_its_own_allowance_and_a_wait_when_it_is_spent() -> None:
    limit = KeyRateLimit("3/minute")
    # Given three requests of key `a` inside a minute, Then all three may go on
    assert [limit.retry_after("a") for _ in range(3)] == [None, None, None]
    # When a fourth comes, Then it waits until the first leaves the window: up to 60 s
    wait = limit.retry_after("a")
    assert wait is not None
    assert 1 <= wait <= 60
    # And another key is not slowed down by `a`.
    assert limit.retry_after("b") is None
    assert str(limit) == "3 per 1 minute"
