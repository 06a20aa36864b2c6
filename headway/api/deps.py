"""Dependencies the routers share, apart from the app that includes them (so a router never
imports the app that imports it)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, Request

from headway.store import Store
from headway.store.readers import Readers

__all__ = ["ReaderDep", "StoreDep", "get_reader", "get_store"]


def get_store(request: Request) -> Store:
    """The store the app was created with."""
    store: Store = request.app.state.store
    return store


StoreDep = Annotated[Store, Depends(get_store)]


def get_reader(request: Request) -> Iterator[Store]:
    """A store for long reads, lent for the request: on PostgreSQL a read-only connection of
    its own, so that a metrics query neither waits for writes nor holds them up."""
    readers: Readers = request.app.state.readers
    with readers.lend() as store:
        yield store


ReaderDep = Annotated[Store, Depends(get_reader)]
