"""What a scoped role reaches: teams for delivery records, environments for flag changes.

A viewer or editor may be scoped (`headway tokens create --team payments`, `--env staging`;
`headway users set-role`). A team scope narrows every read of delivery records (metrics,
deployments, changes, incidents, flow, signals, findings, the review, notes) to the teams'
services: a request naming no scope is answered for the one team (with several, it must name
one), one naming another team, another team's service or an operating context is refused
403 naming the scope. Reads that span every team and have no team to narrow to (Prometheus'
`/metrics`, sources' status, the GitHub App's repositories) are refused to a team-scoped
token. An environment scope limits changes: what one environment serves (its switch, rules,
default, kill switch) and its rollouts; changes to a whole flag (create, import, describe,
archive) and to segments, which every environment shares, need an editor of every
environment. Flags and rollouts are read by any viewer.
"""

from __future__ import annotations

from urllib.parse import urlencode

from fastapi import Request

from headway.api.auth import AuthError, require
from headway.flags.tokens import Token
from headway.query import OutsideScope, within_teams
from headway.store import Store

__all__ = [
    "every_environment",
    "every_team",
    "in_environment",
    "note_scope",
    "team_reader",
]


def _refuse(token: Token, what: str) -> AuthError:
    return AuthError(403, f"this token is scoped to {token.scope_text()}: {what}")


def in_environment(token: Token, environment: str | None, doing: str) -> None:
    """Refuse `doing` in `environment` (None: in every one) unless the token reaches it."""
    if token.environments is None:
        return
    if environment is None:
        raise _refuse(token, f"it cannot {doing} in every environment; name one of its own")
    if environment not in token.environments:
        raise _refuse(token, f"it cannot {doing} in {environment}")


def every_environment(token: Token, doing: str) -> None:
    """Refuse `doing`, a change every environment sees, to an environment-scoped token."""
    if token.environments is not None:
        raise _refuse(token, f"it cannot {doing}, which changes every environment")


def every_team(token: Token, reading: str) -> None:
    """Refuse `reading`, which spans every team, to a team-scoped token."""
    if token.teams is not None:
        raise _refuse(token, f"it cannot read {reading}, which spans every team")


def _narrowed(
    store: Store, token: Token, service: str | None, team: str | None, context: str | None
) -> str | None:
    assert token.teams is not None
    try:
        return within_teams(store, token.teams, service, team, context)
    except OutsideScope as error:
        raise _refuse(token, str(error)) from None


def team_reader(request: Request) -> Token:
    """A router's dependency: a viewer token, its reads narrowed to its teams.

    Runs before the route's parameters are read: a read that names no scope gets its one team
    added to the query, so every route of the router answers for that team only and none of
    them has to remember to.
    """
    token = require("viewer")(request)
    if token.teams is None:
        return token
    params = request.query_params
    notes = request.url.path.endswith("/notes")
    scope = params.get("scope", "organisation") if notes else "organisation"
    with request.app.state.lookups.lend() as store:  # a read only: no write to wait for
        if scope != "organisation":  # a note's scope: team:NAME, service:NAME, context:NAME
            _narrowed(store, token, **_parts(scope))
            return token
        where = (params.get("service"), params.get("team"), params.get("context"))
        team = _narrowed(store, token, *where)
    if team is not None:
        items = [(k, v) for k, v in params.multi_items() if k != "scope"]
        items.append(("scope", f"team:{team}") if notes else ("team", team))
        request.scope["query_string"] = urlencode(items).encode()
        # Starlette keeps the parsed query on the request; parse it again from the new one.
        request.__dict__.pop("_query_params", None)
    return token


def _parts(scope: str) -> dict[str, str | None]:
    """A note's scope (`team:NAME` …) as the service, team and context it names."""
    kind, _, name = scope.partition(":")
    return {k: name if k == kind else None for k in ("service", "team", "context")}


def note_scope(store: Store, token: Token, scope: str) -> None:
    """Refuse a note on `scope` (organisation, team:NAME …) outside a team-scoped token's."""
    if token.teams is None:
        return
    if scope == "organisation":
        raise _refuse(token, "it cannot write a note on the whole organisation")
    _narrowed(store, token, **_parts(scope))
