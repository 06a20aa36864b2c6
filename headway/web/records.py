"""The records behind a figure: deployments (with the evidence of each failure), changes and
incidents of a scope and window, sorted, filtered and paged on the server.

The rows come from `headway.metrics.records`, the functions behind `GET /api/deployments`,
`/api/changes` and `/api/incidents` (the page's JSON twins, which take the same `only`, `q`,
`sort` and `dir`): whatever the filter and order, a page is one query and its count another
(or the same, for deployments), on the analytics engine when the server is set to one.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from headway import answers
from headway.definitions import Definition
from headway.metrics import records
from headway.metrics.dora import Period, Scope
from headway.metrics.links import PUBLIC, Bases
from headway.metrics.record_reads import RecordSource
from headway.metrics.refine import FILTERS, SORTS, Refinement
from headway.query import QueryError
from headway.store import Store
from headway.web.render import Reading, render
from headway.web.store import INPUT_ERRORS, WebStore, refused, unavailable
from headway.web.view import View

__all__ = ["KINDS", "Listing", "router"]

router = APIRouter(include_in_schema=False)
PAGE_SIZES = (25, 50, 100, 200)
MAX_SEARCH = 200  # characters, as the API's `q`


@dataclass(frozen=True)
class Kind:
    columns: tuple[str, ...]  # sortable, the first is the list's own order
    filters: tuple[str, ...]


# What each list offers, as `headway.metrics.refine` defines it.
KINDS = {kind: Kind(tuple(SORTS[kind]), tuple(FILTERS[kind])) for kind in SORTS}


@dataclass(frozen=True)
class Listing:
    """What a records page asks for, beyond its view: filter, search, order and page."""

    kind: str
    only: str | None = None
    q: str | None = None
    sort: str | None = None
    desc: bool = False
    offset: int = 0
    limit: int = 50

    @classmethod
    def of(cls, kind: str, request: Request) -> Listing:
        given = request.query_params
        only, sort = given.get("only") or None, given.get("sort") or None
        order = given.get("dir") or "asc"
        if order not in ("asc", "desc"):
            raise QueryError(f"dir must be asc or desc, not {order!r}")
        search = (given.get("q") or "").strip() or None
        if search is not None and len(search) > MAX_SEARCH:
            raise QueryError(f"q must be at most {MAX_SEARCH} characters, not {len(search)}")
        return cls(
            kind,
            only,
            search,
            sort,
            order == "desc",
            _whole(given.get("offset"), "offset", 0, 2**31),
            _whole(given.get("limit"), "limit", 50, max(PAGE_SIZES), low=1),
        )

    def refinement(self) -> Refinement:
        return Refinement(self.only, self.q, self.sort, self.desc).check(self.kind)

    def params(self, **changes: Any) -> dict[str, str]:
        values = {
            "only": self.only,
            "q": self.q,
            "sort": self.sort,
            "dir": "desc" if self.desc else None,
            "offset": str(self.offset) if self.offset else None,
            "limit": str(self.limit) if self.limit != 50 else None,
        }
        values.update(changes)
        return {k: v for k, v in values.items() if v is not None}


def evidence_kind(rule: str) -> str:
    """Which records list holds a failure's evidence: an incident, a revert or a deployment."""
    return {"incident": "incidents", "revert": "changes"}.get(rule, "deployments")


def _whole(text: str | None, name: str, default: int, high: int, low: int = 0) -> int:
    if text is None or text == "":
        return default
    if not (text.isascii() and text.isdigit()) or not low <= int(text) <= high:
        raise QueryError(f"{name} must be a whole number from {low} to {high}, not {text!r}")
    return int(text)


def fetch(
    store: Store,
    inputs: tuple[Definition, Scope, Period],
    listing: Listing,
    bases: Bases = PUBLIC,
    source: RecordSource | None = None,
) -> tuple[list[dict[str, Any]], int, bool]:
    """This page's rows, the number of rows in all and whether more follow: one query for the
    page and one for the count, whatever the filter and order (deployments count within
    their page's query); read from `source` (an engine's, or else the store's)."""
    defn, scope, period = inputs
    refine = listing.refinement()
    args = (store, defn, scope, period, listing.limit, listing.offset, refine)
    if listing.kind == "deployments":
        # the count comes with the page: a filter on failures is worked out once
        rows, count = records.deployments_and_total(*args, bases, source=source)
        return rows, count, listing.offset + len(rows) < count
    if listing.kind == "changes":
        rows = records.changes(*args, bases, source=source)
    else:
        rows = records.incidents(*args, source=source)
    count = records.total(store, listing.kind, defn, scope, period, refine, source=source)
    return rows, count, listing.offset + len(rows) < count


@router.get("/records/{kind}")
def records_page(request: Request, kind: str, store: WebStore, session: Reading) -> HTMLResponse:
    if kind not in KINDS:
        why = f"records are deployments, changes or incidents, not {kind!r}"
        return render(request, "error.html", session, 404, title="Not found", why=why)
    try:
        view = View.of(request)
        listing = Listing.of(kind, request)
        defn, scope, period = view.inputs(store)
        settings = request.app.state.settings
        bases = Bases(github=settings.github_web_url)
        with answers.record_source(settings, store, server=True) as source:
            rows, total, more = fetch(store, (defn, scope, period), listing, bases, source)
    except INPUT_ERRORS as error:
        return refused(request, session, error)
    except answers.EngineUnavailable as error:
        return unavailable(request, session, error)
    here = f"/records/{kind}"

    def link(**changes: Any) -> str:
        return view.link(here, listing.params(**changes))

    return render(
        request,
        f"records_{kind}.html",
        session,
        title=f"{kind.capitalize()} · {scope.describe()}",
        kind=kind,
        spec=KINDS[kind],
        view=view,
        listing=listing,
        rows=rows,
        total=total,
        more=more,
        scope=scope,
        period=period,
        link=link,
        evidence_kind=evidence_kind,
        overview=view.link("/"),
        api=view.link(f"/api/{kind}", listing.params(limit=str(listing.limit))),
    )
