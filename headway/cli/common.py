"""What every command shares: the one `fail`, opening the store, and the common options.

Errors go to stderr and data to stdout, so `headway metrics --format json > x.json` leaves
an empty file, not an error message, when it fails.
"""

from __future__ import annotations

import getpass
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING, Annotated, Any, NoReturn

import typer
from rich.console import Console

if TYPE_CHECKING:
    from headway.config import Settings
    from headway.store import Store

# Errors for people, on stderr; as wide as the data console so long messages wrap alike.
errors = Console(
    stderr=True, width=None if sys.stderr.isatty() else int(os.environ.get("COLUMNS", 140))
)


class RemoteError(Exception):
    """The server could not be reached, refused the token, or refused the request."""


class Format(StrEnum):
    table = "table"
    json = "json"
    csv = "csv"


class Bucket(StrEnum):
    week = "week"
    month = "month"


class Each(StrEnum):
    service = "service"
    team = "team"
    context = "context"


class EngineName(StrEnum):
    duckdb = "duckdb"
    postgres = "postgres"
    spark = "spark"


EngineOpt = Annotated[
    EngineName | None,
    typer.Option(
        "--engine",
        help="Compute on this analytics engine (docs/engines.md); default HEADWAY_ENGINE, "
        "else the store's own statements. `spark` reads HEADWAY_ENGINE_PARQUET.",
    ),
]


class Year(StrEnum):
    y2023 = "2023"
    y2024 = "2024"
    y2025 = "2025"


def actor() -> str:
    """Who a change made from this command line is recorded as (HEADWAY_ACTOR overrides)."""
    return os.environ.get("HEADWAY_ACTOR") or f"cli:{getpass.getuser()}"


def fail(message: str, code: int = 2) -> NoReturn:
    """Print `error: MESSAGE` on stderr and exit with `code` (2: bad input, 1: the store)."""
    errors.print(f"[red]error:[/red] {message}", highlight=False, soft_wrap=True)
    raise typer.Exit(code)


@contextmanager
def store_for(settings: Settings | None = None) -> Iterator[Store]:
    """Open the store; turn every user-facing error into one line and exit code 2."""
    from headway.config import get_settings
    from headway.store import StoreError, open_store

    settings = settings or get_settings()
    try:
        store = open_store(settings)
    except StoreError as error:
        fail(str(error), 1)
    try:
        yield store
    except Exception as error:
        refuse(error, local=True)
        raise
    finally:
        store.close()


def refuse(error: Exception, *, local: bool) -> None:
    """Exit with one line on stderr if `error` is one a person can act on: code 2 for bad
    input, 1 for a store that failed; return (for the caller to re-raise) if it is not.

    The error classes load here, when one is raised, not at start-up: their modules import
    the store and the query layer, which `--help` and most commands' parsing never need.
    """
    if isinstance(error, typer.Exit):  # said already
        return
    from headway.definitions import DefinitionError
    from headway.flags.model import ConfigError
    from headway.flags.service import Conflict, NotFound
    from headway.metrics.dora import ScopeError
    from headway.names import UnknownName
    from headway.query import QueryError
    from headway.sources.files import InputError
    from headway.store import StoreError

    if isinstance(error, ConfigError):
        for issue in error.issues:
            errors.print(f"[red]error:[/red] {issue}", highlight=False, soft_wrap=True)
        raise typer.Exit(2) from None
    if isinstance(error, UnknownName):  # the local user may see every name
        fail(error.for_local_user() if local else str(error))
    if isinstance(
        error,
        ScopeError | InputError | DefinitionError | QueryError | NotFound | Conflict | RemoteError,
    ):
        fail(str(error))
    if isinstance(error, StoreError):
        fail(str(error), 1)


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


# -- shared options --------------------------------------------------------------------------

ServiceOpt = Annotated[str | None, typer.Option("--service", help="Only this service.")]
TeamOpt = Annotated[str | None, typer.Option("--team", help="Only this team's services.")]
ContextOpt = Annotated[
    str | None,
    typer.Option("--context", help="Only services of this operating context (e.g. regulated)."),
]
SinceOpt = Annotated[
    str | None,
    typer.Option(
        "--since", help="Start date (YYYY-MM-DD or ISO time, UTC). Default: 90 days before --until."
    ),
]
UntilOpt = Annotated[
    str | None,
    typer.Option(
        "--until",
        help="End date, inclusive when a date (YYYY-MM-DD). Default: today (UTC).",
    ),
]
DefinitionOpt = Annotated[
    str | None,
    typer.Option(
        "--definition",
        "-d",
        help="Definition to use (dora, fourkeys, devlake, NAME@VERSION or a "
        "TOML file). Default: the active one.",
    ),
]
FormatOpt = Annotated[Format, typer.Option("--format", "-f", help="Output format.")]
YearOpt = Annotated[Year, typer.Option("--levels", help="DORA report year for performance levels.")]


def summary(counts: dict[str, int]) -> str:
    """`3 deployments, 2 changes` from counts by table; `nothing new` when all are zero."""
    return (
        ", ".join(f"{n} {table.replace('_', ' ')}" for table, n in counts.items() if n)
        or "nothing new"
    )
