"""Attribution: which deployment shipped each change, which one each incident is blamed on,
and which failed deployment each rollback or hotfix repairs.

What a source states explicitly wins (a deployment listing its changes, an incident naming
its cause, a rollback naming what it undoes). Otherwise the rules below infer a link from
time, per service, and record which rule did it. The links are stored (derived columns) so
that metrics over millions of rows need no re-linking; `link()` recomputes them for the
services a write touched. Every statement is set-based SQL both engines run unchanged
(`store/linking.py` builds them).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta

from headway.config import Settings
from headway.store import Store
from headway.store import linking as statements
from headway.store.base import utc_naive
from headway.store.linking import END as _END
from headway.store.linking import SHIPPING_KINDS, Bound, Relink


def link(
    store: Store,
    settings: Settings,
    services: Iterable[str] | None = None,
    since: Mapping[str, datetime | None] | None = None,
) -> None:
    """Recompute derived links for `services` (all services when None), in one transaction.

    Each link is computed once, as the value it should have, and only rows whose stored link
    differs are written: re-linking a service whose history did not move writes nothing.

    `since` bounds the work for the services it names (webhook batches): the earliest instant
    a write may have moved there, the old and new time columns of each record it wrote (None
    when none had a time). Only links that can depend on something at or after it are
    recomputed, plus every row still without a link; the result is the same as the whole
    re-link of those services (tests/test_linking_bounded.py checks it on both engines).
    """
    names = sorted(set(services)) if services is not None else None
    bounded = {
        name: utc_naive(t) or _END
        for name, t in (since or {}).items()
        if names is None or name in names
    }
    whole: tuple[str, tuple[str, ...]] | None
    if names is None:
        whole = ("not in", tuple(sorted(bounded))) if bounded else ("all", ())
    else:
        others = tuple(n for n in names if n not in bounded)
        whole = ("in", others) if others else None
    if whole is None and not bounded:
        return
    envs = settings.production_environments
    window = timedelta(hours=settings.incident_window_hours)
    with store.transaction():
        cuts = statements.cuts(store, envs, bounded)
        bounds = tuple(
            Bound(name, at, *cuts.get(name, (None, None))) for name, at in sorted(bounded.items())
        )
        statements.relink(store, envs, window, Relink(whole, bounds))


def affected(
    store: Store, keys: Iterable[tuple[str, str]], into: dict[str, datetime | None]
) -> None:
    """Note in `into` the services of the stored rows with these (table, id) keys and, for
    each, the earliest of those rows' times (None while none has one). Called before a write
    and after it, so a record whose time or service moved counts at its old place and new."""
    by_table: dict[str, list[str]] = {}
    for table, record_id in keys:
        if table in statements.TIMES:
            by_table.setdefault(table, []).append(record_id)
    if by_table:
        for service, *times in statements.places(store, by_table):
            into[service] = _earliest(into.get(service), *times)


def _earliest(*values: datetime | None) -> datetime | None:
    known = [utc_naive(v) for v in values if v is not None]
    return min(v for v in known if v is not None) if known else None


__all__ = ["SHIPPING_KINDS", "affected", "link"]
