"""Definitions: which rules decide each number, the history of the active one, and one
window's numbers under two definitions side by side with how far each differing rule alone
moves them.

From `headway.definitions` and `headway.metrics.compare.diff`, as `GET /api/definitions` and
`GET /api/definitions/diff` (the page's JSON twins).
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from headway import definitions as defs
from headway.metrics.compare import diff
from headway.metrics.results import DefinitionsDiff
from headway.query import definition_of
from headway.web.render import Reading, render
from headway.web.store import INPUT_ERRORS, WebStore, refused
from headway.web.view import View

__all__ = ["router"]

router = APIRouter(include_in_schema=False)


@router.get("/definitions")
def definitions_page(
    request: Request,
    store: WebStore,
    session: Reading,
    a: str | None = None,
    b: str | None = None,
) -> HTMLResponse:
    try:
        view = View.of(request)
        active = defs.active(store)
        first = definition_of(store, a or f"{active.name}@{active.version}")
        second = definition_of(store, b or _other(active.name))
        _, scope, period = view.inputs(store)
        compared = DefinitionsDiff.model_validate(
            diff(store, first, second, scope, period, view.levels)
        )
    except INPUT_ERRORS as error:
        return refused(request, session, error)
    twin = view.link(
        "/api/definitions/diff",
        {"a": f"{first.name}@{first.version}", "b": f"{second.name}@{second.version}"},
        by="week",  # the default, left out of the link
    )
    return render(
        request,
        "definitions.html",
        session,
        title=f"Definitions · {scope.describe()}",
        view=view,
        active=active,
        history=list(reversed(defs.history(store))),
        presets=list(defs.PRESETS),
        diff=compared,
        a=a or f"{first.name}@{first.version}",
        b=b or second.name,
        api=twin,
    )


def _other(name: str) -> str:
    """The preset to compare the active definition with: the first one it is not."""
    return next(p for p in defs.PRESETS if p != name)
