"""The state a page's URL holds (scope, window, definition, trend bucket, report year), read
once and written back into every link, so a link reproduces the view it was taken from.

Values are checked by `headway.query`, as the API and the CLI check them; a bad one is a 4xx
page naming the parameter, never a 500.
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace
from typing import Any
from urllib.parse import urlencode

from fastapi import Request

from headway.definitions import Definition
from headway.metrics.dora import Period, Scope
from headway.query import QueryError, inputs
from headway.store import Store

__all__ = ["CHILD", "View"]

# Drilling down: the kind of scope one level below each kind.
CHILD = {"organisation": "context", "context": "team", "team": "service", "service": None}
BUCKETS = ("week", "month")
YEARS = ("2023", "2024", "2025")


@dataclass(frozen=True)
class View:
    service: str | None = None
    team: str | None = None
    context: str | None = None
    since: str | None = None
    until: str | None = None
    definition: str | None = None
    by: str = "week"
    levels: str = "2024"

    @classmethod
    def of(cls, request: Request) -> View:
        given = request.query_params
        values = {f.name: given.get(f.name) or None for f in fields(cls)}
        view = cls(**{k: v for k, v in values.items() if v is not None})
        if view.by not in BUCKETS:
            raise QueryError(f"by must be week or month, not {view.by!r}")
        if view.levels not in YEARS:
            raise QueryError(f"levels must be one of {', '.join(YEARS)}, not {view.levels!r}")
        return view

    def inputs(self, store: Store) -> tuple[Definition, Scope, Period]:
        return inputs(
            store, self.service, self.team, self.context, self.since, self.until, self.definition
        )

    def params(self, **changes: Any) -> dict[str, str]:
        """The query parameters of this view with `changes`; defaults and blanks left out."""
        view = replace(self, **changes)
        default = View()
        return {
            f.name: str(getattr(view, f.name))
            for f in fields(view)
            if getattr(view, f.name) is not None
            and (
                f.name not in ("by", "levels") or getattr(view, f.name) != getattr(default, f.name)
            )
        }

    def link(self, path: str, extra: dict[str, str] | None = None, **changes: Any) -> str:
        query = urlencode({**self.params(**changes), **(extra or {})})
        return f"{path}?{query}" if query else path

    def scoped(self, kind: str, name: str | None) -> View:
        """This view over another scope."""
        return replace(
            self,
            service=name if kind == "service" else None,
            team=name if kind == "team" else None,
            context=name if kind == "context" else None,
        )

    def window(self, since: str, until: str) -> View:
        return replace(self, since=since, until=until)
