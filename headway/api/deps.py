"""Dependencies the routers share, apart from the app that includes them (so a router never
imports the app that imports it)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from headway.store import Store

__all__ = ["StoreDep", "get_store"]


def get_store(request: Request) -> Store:
    """The store the app was created with."""
    store: Store = request.app.state.store
    return store


StoreDep = Annotated[Store, Depends(get_store)]
