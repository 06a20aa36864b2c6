"""Where the commands get their answers: the store itself, or a running `headway serve`.

Every command asks a `Backend` and formats what it gets, so it prints the same and exits
with the same code whichever answers. `LocalBackend` opens the store; `RemoteBackend` asks the
server HEADWAY_URL names, with HEADWAY_TOKEN, through the one HTTP client (`cli.remote.Api`).
`backend()` picks one and turns every refusal into one line on stderr.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any, Protocol

import typer

from headway import definitions as defs
from headway.cli.common import errors, fail, query_inputs
from headway.cli.remote import Api, RemoteError, RemoteFlagService, RemoteTokenService, metric_set
from headway.config import Settings, get_settings
from headway.definitions import Definition, DefinitionError
from headway.flags.model import ConfigError
from headway.flags.service import Conflict, FlagService, NotFound
from headway.flags.tokens import TokenService
from headway.metrics import dora, flow, records, signals
from headway.metrics.dora import MetricSet, Period, Scope, ScopeError
from headway.names import UnknownName
from headway.query import QueryError
from headway.sources.files import InputError
from headway.store import Store, StoreError, open_store

__all__ = ["Backend", "LocalBackend", "Query", "RemoteBackend", "backend"]

Flags = FlagService | RemoteFlagService
Tokens = TokenService | RemoteTokenService


@dataclass(frozen=True)
class Query:
    """The scope, period and definition most reads take, as the user typed them."""

    service: str | None = None
    team: str | None = None
    context: str | None = None
    since: str | None = None
    until: str | None = None
    definition: str | None = None

    def params(self) -> dict[str, Any]:
        return {
            "service": self.service,
            "team": self.team,
            "context": self.context,
            "since": self.since,
            "until": self.until,
            "definition": self.definition,
        }


class Backend(Protocol):
    """What the commands may ask. Results are the documents the HTTP API returns."""

    flags: Flags
    tokens: Tokens

    def metrics(
        self, query: Query, *, year: str, by: str | None, each: str | None
    ) -> list[MetricSet]: ...
    def records(self, kind: str, query: Query, limit: int | None) -> list[dict[str, Any]]: ...
    def flow(self, query: Query, *, by: str | None, each: str | None) -> list[dict[str, Any]]: ...
    def signals(
        self, query: Query, *, by: str, each: str | None, ai: signals.AiRule
    ) -> list[dict[str, Any]]: ...
    def definition(self, name: str | None) -> Definition: ...
    def definition_history(self) -> list[dict[str, Any]]: ...
    def sources_status(self) -> list[dict[str, Any]]: ...
    def notes(self, scope: str, period: str) -> list[dict[str, Any]]: ...
    def add_note(self, scope: str, period: str, text: str, author: str) -> dict[str, Any]: ...
    def import_records(self, records: Iterable[Any]) -> tuple[dict[str, int], dict[str, int]]: ...
    def audit_entries(self, entity: str | None) -> Iterable[dict[str, Any]]: ...
    def audit_verify(self) -> dict[str, Any]: ...


class LocalBackend:
    """Answers from the store the settings name."""

    def __init__(self, store: Store, settings: Settings) -> None:
        self.store = store
        self.settings = settings
        self.flags: Flags = FlagService(store)
        self.tokens: Tokens = TokenService(store)

    def _inputs(self, query: Query) -> tuple[Definition, Scope, Period]:
        q = query
        return query_inputs(
            self.store, q.service, q.team, q.context, q.since, q.until, q.definition
        )

    def metrics(
        self, query: Query, *, year: str, by: str | None, each: str | None
    ) -> list[MetricSet]:
        defn, scope, period = self._inputs(query)
        if each:
            return dora.compute_each(self.store, defn, each, period, year=year, within=scope)
        return [dora.compute(self.store, defn, scope, period, year=year, by=by)]

    def records(self, kind: str, query: Query, limit: int | None) -> list[dict[str, Any]]:
        defn, scope, period = self._inputs(query)
        if kind == "deployments":
            return records.deployments(self.store, defn, scope, period, limit)
        if kind == "changes":
            return records.changes(self.store, defn, scope, period, limit)
        return records.incidents(self.store, scope, period, limit)

    def flow(self, query: Query, *, by: str | None, each: str | None) -> list[dict[str, Any]]:
        defn, scope, period = self._inputs(query)
        if each:
            results = flow.breakdown_each(self.store, defn, each, period, scope, by)
        else:
            results = [flow.breakdown(self.store, defn, scope, period, by)]
        return [self._noted(r.to_json(), period) for r in results]

    def signals(
        self, query: Query, *, by: str, each: str | None, ai: signals.AiRule
    ) -> list[dict[str, Any]]:
        defn, scope, period = self._inputs(query)
        if each:
            docs = [
                signals.compute(
                    self.store, defn, Scope(each, key), period, by=by, ai=ai, members=members
                )
                for key, members in flow.group_members(self.store, each, scope).items()
            ]
        else:
            docs = [signals.compute(self.store, defn, scope, period, by=by, ai=ai)]
        return [self._noted(d, period) for d in docs]

    def _noted(self, doc: dict[str, Any], period: Period) -> dict[str, Any]:
        from headway.interpret import notes

        kind, name = doc["scope"]["kind"], doc["scope"]["name"]
        scope = Scope() if kind == "organisation" else Scope(kind, name)
        return {**doc, "notes": notes.for_scope(self.store, scope, period)}

    def definition(self, name: str | None) -> Definition:
        from headway.query import definition_of

        return definition_of(self.store, name, files=True)

    def definition_history(self) -> list[dict[str, Any]]:
        return history_rows(self.store)

    def sources_status(self) -> list[dict[str, Any]]:
        from headway.ingest import deliveries

        return deliveries.status(self.store)

    def audit_entries(self, entity: str | None) -> Iterable[dict[str, Any]]:
        from headway.store import audit

        return (e.document() for e in audit.entries(self.store, entity=entity))

    def audit_verify(self) -> dict[str, Any]:
        from headway.store import audit

        return audit.verify(self.store).document()

    def notes(self, scope: str, period: str) -> list[dict[str, Any]]:
        from headway.interpret import notes

        return notes.for_scope(self.store, notes.parse_scope(scope), notes.parse_period(period))

    def add_note(self, scope: str, period: str, text: str, author: str) -> dict[str, Any]:
        from headway.interpret import notes

        where, when = notes.parse_scope(scope), notes.parse_period(period)
        return notes.add(self.store, where, when, text, author=author)

    def import_records(self, records: Iterable[Any]) -> tuple[dict[str, int], dict[str, int]]:
        from headway.cli.common import actor
        from headway.ingest import ingest

        result = ingest(self.store, self.settings, records, actor=actor())
        return result.new, result.seen


def history_rows(store: Store) -> list[dict[str, Any]]:
    """Every definition made active, times in ISO form (what `GET /api/definitions` sends)."""
    rows = defs.history(store)
    for row in rows:
        row["created_at"] = row["created_at"].isoformat() + "Z"
    return rows


class RemoteBackend:
    """Answers from the server HEADWAY_URL names, through its HTTP API."""

    def __init__(self, api: Api) -> None:
        self.api = api
        self.flags: Flags = RemoteFlagService(api)
        self.tokens: Tokens = RemoteTokenService(api)

    def _params(self, query: Query, **more: Any) -> dict[str, Any]:
        if query.definition is not None and defs.is_path(query.definition):
            fail(
                f"--definition {query.definition}: a definition file is read only with a local "
                "store; against a server, store it first (`headway definitions set FILE "
                "--reason ...` on the server's store) and name it"
            )
        return {**query.params(), **more}

    def metrics(
        self, query: Query, *, year: str, by: str | None, each: str | None
    ) -> list[MetricSet]:
        params = self._params(query, levels=year, by=by, each=each)
        data = self.api.call("GET", "/metrics", params=params)
        return [metric_set(d) for d in data] if each else [metric_set(data)]

    def records(self, kind: str, query: Query, limit: int | None) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = self.api.call(
            "GET", f"/{kind}", params=self._params(query), at_most=limit
        )
        return found

    def flow(self, query: Query, *, by: str | None, each: str | None) -> list[dict[str, Any]]:
        data = self.api.call("GET", "/flow", params=self._params(query, by=by, each=each))
        return list(data) if each else [data]

    def signals(
        self, query: Query, *, by: str, each: str | None, ai: signals.AiRule
    ) -> list[dict[str, Any]]:
        params = self._params(
            query,
            by=by,
            each=each,
            ai_label=list(ai.labels),
            ai_author=list(ai.authors),
            ai_trailer=list(ai.trailers),
        )
        data = self.api.call("GET", "/signals", params=params)
        return list(data) if each else [data]

    def definition(self, name: str | None) -> Definition:
        self._params(Query(definition=name))
        found = self.api.call("GET", "/definition", params={"name": name})
        return Definition.model_validate(found)

    def definition_history(self) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = self.api.call("GET", "/definitions")
        return found

    def sources_status(self) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = self.api.call("GET", "/sources/status")
        return found

    def audit_entries(self, entity: str | None) -> Iterable[dict[str, Any]]:
        found: list[dict[str, Any]] = self.api.call(
            "GET", "/audit", params={"entity": entity, "limit": 1000}
        )
        return found

    def audit_verify(self) -> dict[str, Any]:
        found: dict[str, Any] = self.api.call("GET", "/audit/verify")
        return found

    def notes(self, scope: str, period: str) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = self.api.call(
            "GET", "/notes", params={"scope": scope, "period": period}
        )
        return found

    def add_note(self, scope: str, period: str, text: str, author: str) -> dict[str, Any]:
        body = {"scope": scope, "period": period, "text": text, "author": author}
        made: dict[str, Any] = self.api.call("POST", "/notes", json=body)
        return made

    def import_records(self, records: Iterable[Any]) -> tuple[dict[str, int], dict[str, int]]:
        sent = self.api.import_records(list(records))
        return sent["new"], sent["seen"]


@contextlib.contextmanager
def backend(settings: Settings | None = None) -> Iterator[Backend]:
    """The server's backend when HEADWAY_URL is set, else the store's; every refusal becomes
    one line on stderr and exit code 2 (1 when the local store itself fails)."""
    settings = settings or get_settings()
    with contextlib.ExitStack() as stack:
        chosen: Backend
        try:
            if settings.url:
                api = Api(settings.url, settings.token)
                stack.callback(api.close)
                chosen = RemoteBackend(api)
            else:
                store = open_store(settings)
                stack.callback(store.close)
                chosen = LocalBackend(store, settings)
        except StoreError as error:
            fail(str(error), 1)
        try:
            yield chosen
        except ConfigError as error:
            for issue in error.issues:
                errors.print(f"[red]error:[/red] {issue}", highlight=False, soft_wrap=True)
            raise typer.Exit(2) from None
        except UnknownName as error:  # the local user may see every name
            fail(error.for_local_user() if not settings.url else str(error))
        except (
            ScopeError,
            InputError,
            DefinitionError,
            QueryError,
            NotFound,
            Conflict,
            RemoteError,
        ) as error:
            fail(str(error))
        except StoreError as error:
            fail(str(error), 1)
