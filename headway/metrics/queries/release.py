"""The rows behind release lead time: each shipped change, its lead time to the deployment
that shipped it, that deployment's finish and environment, and each flag its pull request
added or used (one row per flag; one row with no flag for an unflagged change)."""

from __future__ import annotations

from datetime import datetime
from functools import lru_cache

from sqlalchemy import and_, select

from headway.definitions import Definition
from headway.metrics.queries import rules as r
from headway.metrics.queries.dora import KEEP, Row, scoped
from headway.metrics.queries.rules import Query
from headway.store import Store
from headway.store.schema import changes, deployments, github_pull_flags, services

# What a pull request does to a flag that keeps its change from users until the flag is on;
# a pull request that removes a flag's checks ships its code to everyone at once.
GATING = ("added", "used")


def release_rows(
    store: Store,
    defn: Definition,
    names: list[str],
    since: datetime,
    until: datetime,
    group: str,
    *,
    flagged: bool = False,
) -> list[Row]:
    """(group, change id, lead seconds, left out as negative, deployment finish, environment,
    flag or None) for every change a counted deployment of `names` shipped in [since, until)
    (only the flagged ones with `flagged`), ordered by change so a change's flags are
    adjacent."""
    values = {"since": since, "until": until, **r.named(names)}
    return store.rows(_release(defn, len(names), group, flagged), **values)


@lru_cache(maxsize=KEEP)
def _release(defn: Definition, count: int, group: str, flagged: bool) -> Query:
    c, d, s = changes.alias("c"), deployments.alias("d"), services.alias("s")
    p = github_pull_flags.alias("p")
    counted, *in_scope = scoped(defn, d, count)
    gating = and_(
        p.c.repository == c.c.repository, p.c.number == c.c.number, p.c.change.in_(GATING)
    )
    return (
        select(
            r.group_key(group, d, s).label("grp"),
            c.c.id,
            r.lead_time(defn, c, d).label("x"),
            r.lead_negative(defn, c, d).label("neg"),
            d.c.finished_at,
            d.c.environment,
            p.c.flag,
        )
        .select_from(
            c.join(d, d.c.id == c.c.deployment_id)
            .outerjoin(s, s.c.name == d.c.service)
            .join(p, gating, isouter=not flagged)
        )
        .where(counted, r.ships(defn, d), r.lead_changes(defn, c), *in_scope)
        .order_by(c.c.id, p.c.flag)
    )
