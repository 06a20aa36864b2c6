"""What every page needs from the app: the store, and how a page answers input it refuses."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from fastapi.responses import HTMLResponse

from headway.definitions import DefinitionError, UnknownDefinition
from headway.metrics.dora import ScopeError, UnknownScope
from headway.metrics.refine import RefineError
from headway.query import QueryError
from headway.store import Store
from headway.web.render import render
from headway.web.session import Session

__all__ = ["INPUT_ERRORS", "WebStore", "refused"]

# Bad report options, the same ones the API answers 400 or 404, and a list's bad order.
INPUT_ERRORS = (QueryError, ScopeError, DefinitionError, RefineError)


def _store(request: Request) -> Store:
    store: Store = request.app.state.store
    return store


WebStore = Annotated[Store, Depends(_store)]


def refused(request: Request, session: Session, error: Exception) -> HTMLResponse:
    """A 404 page for a name the store does not know, a 400 page for any other bad option."""
    status = 404 if isinstance(error, UnknownScope | UnknownDefinition) else 400
    title = "Not found" if status == 404 else "Bad request"
    return render(request, "error.html", session, status, title=title, why=str(error))


def unavailable(request: Request, session: Session, error: Exception) -> HTMLResponse:
    """A 503 page: the analytics engine the server is set to cannot answer (its settings)."""
    why = f"the analytics engine cannot answer: {error}"
    return render(request, "error.html", session, 503, title="Unavailable", why=why)
