"""Which tokens are live, asked of the store for one id (a web session) and for many (the
holders of a flag), on both engines."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import update

from headway.flags.tokens import TokenService
from headway.store import Store
from headway.store.schema import api_tokens


def test_live_ids_leave_out_revoked_expired_and_unknown_tokens(store: Store) -> None:
    # Given four tokens, one then revoked and one whose expiry has passed
    service = TokenService(store, cache_seconds=0)
    later = datetime.now(UTC) + timedelta(hours=1)
    live, _ = service.create("viewer", name="live", actor="test")
    revoked, _ = service.create("editor", name="revoked", actor="test")
    expired, expired_secret = service.create(
        "viewer", name="expired", actor="test", expires_at=later
    )
    dated, _ = service.create("admin", name="dated", actor="test", expires_at=later)
    assert service.revoke(revoked.id, actor="test")
    past = (datetime.now(UTC) - timedelta(seconds=1)).replace(tzinfo=None)
    store.run(update(api_tokens).where(api_tokens.c.id == expired.id).values(expires_at=past))

    # When the store is asked about all of them and an id it never issued
    ids = [live.id, revoked.id, expired.id, dated.id, "00000000"]

    # Then only the unrevoked token and the one still within its expiry are live
    assert service.live_ids(ids) == {live.id, dated.id}
    # and asking one at a time (a web session's check) agrees
    assert {i for i in ids if service.live_ids([i])} == {live.id, dated.id}
    assert service.verify(expired_secret) is None
    assert not service.revoke(revoked.id, actor="test")  # revoked once only
