"""The backend over the store the settings name: what every command asks when HEADWAY_URL is
not set. Each answer is the document the matching API route sends (`_as_sent` passes it
through the route's response model), so the CLI formats one thing whichever backend answers.
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel

from headway.cli.common import Query, fail
from headway.metrics.links import Bases
from headway.metrics.results import Change, Deployment, Incident, Result

if TYPE_CHECKING:
    from headway.config import Settings
    from headway.definitions import Definition
    from headway.engines.export import Exported
    from headway.flags.schedules import ScheduleService
    from headway.flags.service import FlagService
    from headway.flags.tokens import TokenService
    from headway.flags.users import UserService
    from headway.ingest.git.run import ImportReport, Progress
    from headway.metrics.dora import MetricSet, Period, Scope
    from headway.metrics.signals import AiRule
    from headway.sources.cdevent_files import Batch
    from headway.sources.git.options import Options
    from headway.store import Store

__all__ = ["LocalBackend", "history_rows"]

RECORDS: dict[str, type[Result]] = {
    "deployments": Deployment,
    "changes": Change,
    "incidents": Incident,
}


class LocalBackend:
    """Answers from the store the settings name."""

    # Each service, and each module below, loads when a command first asks for it: an import
    # needs none of the flag services, a report none of the ingest path.
    def __init__(self, store: Store, settings: Settings) -> None:
        self.store = store
        self.settings = settings

    @cached_property
    def flags(self) -> FlagService:
        from headway.flags.service import FlagService

        return FlagService(self.store)

    @cached_property
    def tokens(self) -> TokenService:
        from headway.flags.tokens import TokenService

        return TokenService(self.store)

    @cached_property
    def users(self) -> UserService:
        from headway.flags.users import UserService

        return UserService(self.store)

    @cached_property
    def schedules(self) -> ScheduleService:
        from headway.flags.schedules import ScheduleService

        return ScheduleService(self.store, flags=self.flags)

    def _inputs(self, query: Query) -> tuple[Definition, Scope, Period]:
        from headway.query import inputs

        q = query  # the CLI's user may name a TOML file as a definition; an HTTP request may not
        return inputs(
            self.store, q.service, q.team, q.context, q.since, q.until, q.definition, files=True
        )

    def metrics(
        self,
        query: Query,
        *,
        year: str,
        by: str | None,
        each: str | None,
        engine: str | None = None,
    ) -> list[MetricSet]:
        from headway import answers

        defn, scope, period = self._inputs(query)
        settings = self._engine(engine)
        try:
            return answers.metric_sets(
                settings, self.store, defn, scope, period, year=year, by=by, each=each
            )
        except answers.EngineUnavailable as error:
            fail(str(error))

    def _engine(self, engine: str | None) -> Settings:
        """The settings with --engine in place of HEADWAY_ENGINE when it is given."""
        return self.settings.model_copy(update={"engine": engine}) if engine else self.settings

    def records(
        self, kind: str, query: Query, limit: int | None, *, engine: str | None = None
    ) -> list[dict[str, Any]]:
        from headway import answers
        from headway.metrics import records

        defn, scope, period = self._inputs(query)
        bases = Bases(github=self.settings.github_web_url)
        try:
            with answers.record_source(self._engine(engine), self.store) as source:
                args = (self.store, defn, scope, period, limit)
                if kind == "deployments":
                    rows = records.deployments(*args, bases=bases, source=source)
                elif kind == "changes":
                    rows = records.changes(*args, bases=bases, source=source)
                else:
                    rows = records.incidents(*args, source=source)
        except answers.EngineUnavailable as error:
            fail(str(error))
        # as the API sends them: the fields in the model's order (a CSV's columns)
        return [_as_sent(RECORDS[kind], row) for row in rows]

    def flow(
        self, query: Query, *, by: str | None, each: str | None, engine: str | None = None
    ) -> list[dict[str, Any]]:
        from headway import answers

        defn, scope, period = self._inputs(query)
        settings = self._engine(engine)
        try:
            results = answers.flows(settings, self.store, defn, scope, period, by=by, each=each)
        except answers.EngineUnavailable as error:
            fail(str(error))
        return [self._noted(r.to_json(), period) for r in results]

    def signals(
        self,
        query: Query,
        *,
        by: str,
        each: str | None,
        ai: AiRule,
        engine: str | None = None,
    ) -> list[dict[str, Any]]:
        from headway import answers

        defn, scope, period = self._inputs(query)
        settings = self._engine(engine)
        try:
            docs = answers.signal_docs(
                settings, self.store, defn, scope, period, by=by, ai=ai, each=each
            )
        except answers.EngineUnavailable as error:
            fail(str(error))
        return [self._noted(d, period) for d in docs]

    def _noted(self, doc: dict[str, Any], period: Period) -> dict[str, Any]:
        from headway.interpret import notes
        from headway.metrics.dora import Scope

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
        from headway.cli.common import actor
        from headway.interpret import notes

        where, when = notes.parse_scope(scope), notes.parse_period(period)
        return notes.add(self.store, where, when, text, author=author or actor())

    def import_records(self, records: Iterable[Any]) -> tuple[dict[str, int], dict[str, int]]:
        from headway.cli.common import actor
        from headway.ingest import ingest

        result = ingest(self.store, self.settings, records, actor=actor())
        return result.new, result.seen

    def import_jsonl(self, paths: list[Path]) -> tuple[dict[str, int], dict[str, int]]:
        from headway.cli.common import actor
        from headway.ingest.bulk import ingest_jsonl

        result = ingest_jsonl(self.store, self.settings, paths, actor=actor())
        return result.new, result.seen

    def import_git(
        self, path: Path, opts: Options, branch: str | None, progress: Progress | None
    ) -> ImportReport:
        from headway.ingest.git import import_repository

        return import_repository(self.store, self.settings, path, opts, branch, progress)

    def import_cdevents(self, batch: Batch, service: str | None) -> dict[str, int]:
        from headway.api.imports import store_cdevents

        return store_cdevents(self.store, self.settings, batch)

    def definitions_diff(self, a: str, b: str, query: Query, *, year: str) -> dict[str, Any]:
        from headway import definitions as defs
        from headway.metrics.compare import diff
        from headway.metrics.results import DefinitionsDiff

        _, scope, period = self._inputs(query)
        da, db = defs.resolve_local(self.store, a), defs.resolve_local(self.store, b)
        return _as_sent(DefinitionsDiff, diff(self.store, da, db, scope, period, year))

    def set_definition(
        self, ref: str, *, author: str, reason: str
    ) -> tuple[Definition, Definition]:
        from headway import definitions as defs
        from headway.cli.common import actor

        chosen = defs.resolve_local(self.store, ref)
        before = defs.active(self.store)
        return defs.set_active(self.store, chosen, author=author or actor(), reason=reason), before

    def review(
        self, period: str, query: Query, *, year: str, engine: str | None = None
    ) -> dict[str, Any]:
        from headway import answers
        from headway.interpret import review
        from headway.interpret.results import Review
        from headway.query import definition_of, scope_of

        defn = definition_of(self.store, query.definition, files=True)
        scope = scope_of(query.service, query.team, query.context)
        settings = self._engine(engine)
        try:
            doc = review.build_where(
                settings, self.store, defn, scope, review.month(period), year=year
            )
        except answers.EngineUnavailable as error:
            fail(str(error))
        return _as_sent(Review, doc)

    def pulse_results(self, team: str | None) -> dict[str, Any]:
        from headway.interpret import pulse
        from headway.interpret.pulse_results import PulseResults

        return _as_sent(PulseResults, pulse.results(self.store, team))

    def pulse_link(self, team: str, days: int) -> dict[str, Any]:
        from datetime import UTC, datetime

        from headway.cli.common import actor
        from headway.interpret import pulse_links
        from headway.interpret.pulse_results import PulseLink

        made = pulse_links.create(self.store, team, days, actor=actor(), now=datetime.now(UTC))
        return _as_sent(PulseLink, {**made, "url": None})

    def reprocess(self) -> dict[str, Any]:
        from headway.ingest.reprocess import reprocess

        done = reprocess(self.store, self.settings)
        return {"deliveries": done.deliveries, "outcomes": done.outcomes, "removed": done.removed}

    def export_parquet(self, folder: Path) -> Exported:
        from headway.engines.export import export_store

        return export_store(self.store, self.settings, folder)


def _as_sent(model: type[BaseModel], doc: dict[str, Any]) -> dict[str, Any]:
    """`doc` as the API sends it: through its response model, fields in the model's order."""
    return model.model_validate(doc).model_dump(mode="json", by_alias=True, exclude_unset=True)


def history_rows(store: Store) -> list[dict[str, Any]]:
    """Every definition made active, times in ISO form (what `GET /api/definitions` sends)."""
    from headway import definitions as defs

    rows = defs.history(store)
    for row in rows:
        row["created_at"] = row["created_at"].isoformat() + "Z"
    return rows
