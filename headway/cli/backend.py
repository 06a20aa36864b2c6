"""Where the commands get their answers: the store itself, or a running `headway serve`.

Every command asks a `Backend` and formats what it gets, so it prints the same and exits
with the same code whichever answers. `LocalBackend` (`cli.local`) opens the store;
`RemoteBackend` asks the server HEADWAY_URL names, with HEADWAY_TOKEN, through the one HTTP
client (`cli.remote.Api`). `backend()` picks one and turns every refusal into one line on
stderr.
"""

from __future__ import annotations

import contextlib
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, TypeAlias

import orjson

from headway.cli.common import Query, fail, refuse

if TYPE_CHECKING:
    from headway.cli.remote import Api, RemoteFlagService
    from headway.cli.remote_access import RemoteTokenService, RemoteUserService
    from headway.cli.remote_schedules import RemoteScheduleService
    from headway.config import Settings
    from headway.definitions import Definition
    from headway.engines.export import Exported
    from headway.flags.schedules import ScheduleService
    from headway.flags.service import FlagService
    from headway.flags.tokens import TokenService
    from headway.flags.users import UserService
    from headway.ingest.git.run import ImportReport, Progress
    from headway.metrics.dora import MetricSet
    from headway.metrics.signals import AiRule
    from headway.model import RawEvent
    from headway.sources.cdevent_files import Batch
    from headway.sources.git.options import Options

__all__ = ["Backend", "Query", "RemoteBackend", "backend"]

# Written as strings, and every service imported where it is used: the local ones load (with
# the store) only when a command opens the store, the remote ones (with the HTTP client) only
# when it talks to a server, so parsing a command line loads neither (docs/decisions.md).
Flags: TypeAlias = "FlagService | RemoteFlagService"
Tokens: TypeAlias = "TokenService | RemoteTokenService"
Users: TypeAlias = "UserService | RemoteUserService"
Schedules: TypeAlias = "ScheduleService | RemoteScheduleService"


class Backend(Protocol):
    """What the commands may ask. Results are the documents the HTTP API returns."""

    @property
    def flags(self) -> Flags: ...
    @property
    def tokens(self) -> Tokens: ...
    @property
    def users(self) -> Users: ...
    @property
    def schedules(self) -> Schedules: ...

    def metrics(
        self,
        query: Query,
        *,
        year: str,
        by: str | None,
        each: str | None,
        engine: str | None = None,
    ) -> list[MetricSet]: ...
    def records(
        self, kind: str, query: Query, limit: int | None, *, engine: str | None = None
    ) -> list[dict[str, Any]]: ...
    def flow(
        self, query: Query, *, by: str | None, each: str | None, engine: str | None = None
    ) -> list[dict[str, Any]]: ...
    def signals(
        self,
        query: Query,
        *,
        by: str,
        each: str | None,
        ai: AiRule,
        engine: str | None = None,
    ) -> list[dict[str, Any]]: ...
    def definition(self, name: str | None) -> Definition: ...
    def definition_history(self) -> list[dict[str, Any]]: ...
    def sources_status(self) -> list[dict[str, Any]]: ...
    def notes(self, scope: str, period: str) -> list[dict[str, Any]]: ...
    def add_note(self, scope: str, period: str, text: str, author: str) -> dict[str, Any]: ...
    def import_records(self, records: Iterable[Any]) -> tuple[dict[str, int], dict[str, int]]: ...
    def import_jsonl(self, paths: list[Path]) -> tuple[dict[str, int], dict[str, int]]: ...
    def audit_entries(self, entity: str | None) -> Iterable[dict[str, Any]]: ...
    def audit_verify(self) -> dict[str, Any]: ...
    def import_cdevents(self, batch: Batch, service: str | None) -> dict[str, int]: ...
    def import_git(
        self, path: Path, opts: Options, branch: str | None, progress: Progress | None
    ) -> ImportReport: ...
    def definitions_diff(self, a: str, b: str, query: Query, *, year: str) -> dict[str, Any]: ...
    def set_definition(
        self, ref: str, *, author: str, reason: str
    ) -> tuple[Definition, Definition]: ...
    def review(
        self, period: str, query: Query, *, year: str, engine: str | None = None
    ) -> dict[str, Any]: ...
    def pulse_results(self, team: str | None) -> dict[str, Any]: ...
    def pulse_link(self, team: str, days: int) -> dict[str, Any]: ...
    def reprocess(self) -> dict[str, Any]: ...
    def export_parquet(self, folder: Path) -> Exported: ...


class RemoteBackend:
    """Answers from the server HEADWAY_URL names, through its HTTP API."""

    def __init__(self, api: Api) -> None:
        from headway.cli.remote import RemoteFlagService
        from headway.cli.remote_access import RemoteTokenService, RemoteUserService
        from headway.cli.remote_schedules import RemoteScheduleService

        self.api = api
        self.flags: Flags = RemoteFlagService(api)
        self.tokens: Tokens = RemoteTokenService(api)
        self.users: Users = RemoteUserService(api)
        self.schedules: Schedules = RemoteScheduleService(api)

    def _params(self, query: Query, **more: Any) -> dict[str, Any]:
        from headway.definitions import is_path

        if query.definition is not None and is_path(query.definition):
            fail(
                f"--definition {query.definition}: a definition file is read only with a local "
                "store; against a server, store it first (`headway definitions set FILE "
                "--reason ...` on the server's store) and name it"
            )
        return {**query.params(), **more}

    def metrics(
        self,
        query: Query,
        *,
        year: str,
        by: str | None,
        each: str | None,
        engine: str | None = None,
    ) -> list[MetricSet]:
        _no_engine(engine)
        params = self._params(query, levels=year, by=by, each=each)
        data = self.api.call("GET", "/metrics", params=params)
        from headway.cli.remote import metric_set

        return [metric_set(d) for d in data] if each else [metric_set(data)]

    def records(
        self, kind: str, query: Query, limit: int | None, *, engine: str | None = None
    ) -> list[dict[str, Any]]:
        _no_engine(engine)
        found: list[dict[str, Any]] = self.api.call(
            "GET", f"/{kind}", params=self._params(query), at_most=limit
        )
        return found

    def flow(
        self, query: Query, *, by: str | None, each: str | None, engine: str | None = None
    ) -> list[dict[str, Any]]:
        _no_engine(engine)
        data = self.api.call("GET", "/flow", params=self._params(query, by=by, each=each))
        return list(data) if each else [data]

    def signals(
        self,
        query: Query,
        *,
        by: str,
        each: str | None,
        ai: AiRule,
        engine: str | None = None,
    ) -> list[dict[str, Any]]:
        _no_engine(engine)
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
        from headway.definitions import Definition

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

    def import_jsonl(self, paths: list[Path]) -> tuple[dict[str, int], dict[str, int]]:
        from headway.sources.files import read_jsonl

        # every line checked here first, as on a local store, then sent as records
        return self.import_records([r for path in paths for r in read_jsonl(path)])

    def import_git(
        self, path: Path, opts: Options, branch: str | None, progress: Progress | None
    ) -> ImportReport:
        from headway.cli.remote import bundle_of
        from headway.ingest.git.run import ImportReport

        if progress:
            progress("Bundling the repository", 0, None)
        bundle, head = bundle_of(path)
        if progress:
            progress(f"Importing on {self.api.url}", 0, None)
        params = {
            "service": opts.service,
            "repository": opts.repository,
            "head": head,
            "team": opts.team,
            "deploy_tags": opts.tags.pattern,
            "prereleases": opts.tags.prereleases,
            "environment": opts.environment,
            "branch": branch,
            "no_deployments": not opts.deployments,
            "host": str(opts.host) if opts.host else "none",
        }
        found = self.api.call(
            "POST",
            "/import/git",
            params=params,
            content=bundle,
            headers={"Content-Type": "application/octet-stream"},
        )
        return ImportReport(**found)

    def import_cdevents(self, batch: Batch, service: str | None) -> dict[str, int]:
        # The events as read: the server validates and maps them again, as its webhook does.
        events = [orjson.loads(_raw(e.records[-1]).payload) for e in batch.parsed]
        sent = self.api.call(
            "POST",
            "/import/cdevents",
            params={"service": service},
            content=orjson.dumps(events),
            headers={"Content-Type": "application/json"},
        )
        new: dict[str, int] = sent["new"]
        return new

    def definitions_diff(self, a: str, b: str, query: Query, *, year: str) -> dict[str, Any]:
        for ref in (a, b):
            self._params(Query(definition=ref))
        found: dict[str, Any] = self.api.call(
            "GET", "/definitions/diff", params=self._params(query, a=a, b=b, levels=year)
        )
        return found

    def set_definition(
        self, ref: str, *, author: str, reason: str
    ) -> tuple[Definition, Definition]:
        from headway.definitions import Definition, is_path, load_file

        body: dict[str, Any] = {"author": author, "reason": reason}
        if is_path(ref):  # the file is read here, where the user named it
            body["definition"] = load_file(Path(ref)).model_dump(mode="json")
        else:
            body["ref"] = ref
        found = self.api.call("POST", "/definitions", json=body)
        return (
            Definition.model_validate(found["active"]),
            Definition.model_validate(found["previous"]),
        )

    def review(
        self, period: str, query: Query, *, year: str, engine: str | None = None
    ) -> dict[str, Any]:
        _no_engine(engine)
        params = self._params(query, period=period, levels=year)
        found: dict[str, Any] = self.api.call("GET", "/review", params=params)
        return found

    def pulse_results(self, team: str | None) -> dict[str, Any]:
        found: dict[str, Any] = self.api.call("GET", "/pulse", params={"team": team})
        return found

    def pulse_link(self, team: str, days: int) -> dict[str, Any]:
        body = {"team": team, "days": days}
        made: dict[str, Any] = self.api.call("POST", "/pulse/links", json=body)
        return made

    def reprocess(self) -> dict[str, Any]:
        found: dict[str, Any] = self.api.call("POST", "/reprocess")
        return found

    def export_parquet(self, folder: Path) -> Exported:
        from headway.engines.export import check_target, unpack_export

        check_target(folder)  # before the download, which may be large
        with tempfile.TemporaryDirectory(prefix="headway-export-") as work:
            archive = Path(work) / "export.zip"
            with archive.open("wb") as into:
                self.api.download("/export/parquet", into)
            return unpack_export(archive, folder)


def _no_engine(engine: str | None) -> None:
    if engine is not None:
        fail(
            "--engine chooses the engine for a local store; a server computes on the "
            "engine its own HEADWAY_ENGINE names: unset HEADWAY_URL to run it here"
        )


def _raw(record: Any) -> RawEvent:
    from headway.model import RawEvent

    assert isinstance(record, RawEvent)  # a parsed event's records end with it
    return record


@contextlib.contextmanager
def backend(settings: Settings | None = None) -> Iterator[Backend]:
    """The server's backend when HEADWAY_URL is set, else the store's; every refusal becomes
    one line on stderr and exit code 2 (1 when the local store itself fails)."""
    from headway.config import get_settings

    settings = settings or get_settings()
    with contextlib.ExitStack() as stack:
        chosen: Backend
        if settings.url:
            from headway.cli.remote import Api

            api = Api(settings.url, settings.token)
            stack.callback(api.close)
            chosen = RemoteBackend(api)
        else:
            from headway.cli.local import LocalBackend
            from headway.store import StoreError, open_store

            try:
                store = open_store(settings)
            except StoreError as error:
                fail(str(error), 1)
            stack.callback(store.close)
            chosen = LocalBackend(store, settings)
        try:
            yield chosen
        except Exception as error:
            refuse(error, local=not settings.url)
            raise
