"""`headway serve`, `headway sources status` and `headway reprocess`."""

from __future__ import annotations

import copy
import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated, Any

import typer

from headway.cli.common import Format, FormatOpt, fail, store_for
from headway.output import console, emit_csv, emit_json

sources_app = typer.Typer(
    help="What webhooks delivered, from where, and what was ignored.", no_args_is_help=True
)


LOG_LEVELS = ("critical", "error", "warning", "info", "debug", "trace")


def create() -> Any:
    """The app uvicorn workers build (settings from HEADWAY_* and headway.toml): the API, with
    the web app at `/`."""
    from headway import web
    from headway.api.app import create_app
    from headway.api.hooks import FastPath
    from headway.config import get_settings

    return FastPath(web.install(create_app(get_settings())))


def serve(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
    workers: Annotated[
        int,
        typer.Option(
            min=1,
            help="Worker processes (PostgreSQL only: an embedded DuckDB store has one writer).",
        ),
    ] = 1,
    log_level: Annotated[
        str,
        typer.Option(help="critical, error, warning, info (one line per request), debug or trace."),
    ] = "info",
) -> None:
    """Serve the web app at /, the HTTP API at /api, webhooks at /hooks/{source}, Prometheus at
    /metrics.

    While it runs, other `headway` commands reach the store through it: export
    HEADWAY_URL=http://HOST:PORT. Webhook secrets come from HEADWAY_<SOURCE>_WEBHOOK_SECRET
    (docs/webhooks.md); a source without one is refused.
    """
    import uvicorn

    from headway.config import get_settings

    if log_level.lower() not in LOG_LEVELS:
        fail(f"--log-level must be one of {', '.join(LOG_LEVELS)}, not {log_level!r}")
    settings = get_settings()
    if workers > 1 and not settings.is_postgres:
        fail(
            "--workers above 1 needs a PostgreSQL store (HEADWAY_DATABASE=postgresql://…): an "
            "embedded DuckDB file can be written by one process only."
        )
    if workers > 1 and not settings.session_key:
        console.print(
            "Note: without HEADWAY_SESSION_KEY each worker signs web sessions with its own "
            "key, so a browser signed in on one worker is sent to sign in again by another. "
            "Set it to 32 or more random characters.",
            highlight=False,
        )
    from headway.flags.tokens import TokenService

    # Open the store first, so a busy or broken store is one clear line, not a traceback; and
    # give a store without an admin the one way in, since every route needs a token.
    from headway.store.locks import Exclusive

    # Replicas starting together on an empty store make one bootstrap token between them.
    with store_for(settings) as store, Exclusive(store, "headway.bootstrap").held():
        secret = TokenService(store).bootstrap()
    here = f"http://{'127.0.0.1' if host in ('0.0.0.0', '::', '') else host}:{port}"
    if secret:
        console.print(
            "No admin token existed, so one was made, named bootstrap (shown this once; make "
            "your own with `headway tokens create --kind admin`, then `headway tokens revoke` "
            "this one). Other headway commands reach the store through this server; in another "
            "shell, run:",
            highlight=False,
        )
        print(f"export HEADWAY_URL={here} HEADWAY_TOKEN={secret}", flush=True)
    else:
        console.print(
            f"Other headway commands reach the store through this server: export "
            f"HEADWAY_URL={here} HEADWAY_TOKEN=<a token of yours>.",
            highlight=False,
        )
    from headway.api.connections import BoundedHttp

    with _shared_prometheus_counters(workers):
        uvicorn.run(
            "headway.cli.serve:create",
            factory=True,
            host=host,
            port=port,
            workers=workers,
            log_level=log_level,
            log_config=_log_config(log_level),
            access_log=False,  # Headway's own access log names the token (HEADWAY_ACCESS_LOG)
            http=BoundedHttp,  # header deadline, body idle limit, header size cap
            timeout_keep_alive=settings.keep_alive_s,
            limit_concurrency=settings.max_connections,
        )


def _log_config(level: str) -> dict[str, Any]:
    """uvicorn's logging, with Headway's loggers (requests, rollout decisions, deliveries)
    written the same way, in every worker."""
    from uvicorn.config import LOGGING_CONFIG

    config = copy.deepcopy(LOGGING_CONFIG)
    config["loggers"]["headway"] = {
        "handlers": ["default"],
        "level": level.upper(),
        "propagate": False,
    }
    return config


@contextmanager
def _shared_prometheus_counters(workers: int) -> Iterator[None]:
    """Workers write their delivery counters to one fresh directory (prometheus-client's
    multiprocess mode) so /metrics counts every worker's deliveries; removed on exit. The
    variable must be set before a worker imports prometheus_client, hence here."""
    if workers == 1 or os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        yield  # one process, or a directory the operator manages
        return
    folder = tempfile.mkdtemp(prefix="headway-prometheus-")
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = folder
    try:
        yield
    finally:
        del os.environ["PROMETHEUS_MULTIPROC_DIR"]
        shutil.rmtree(folder, ignore_errors=True)


@sources_app.command("status")
def sources_status(fmt: FormatOpt = Format.table) -> None:
    """Deliveries by source and event: how many were used, ignored (and why) or rejected."""
    from headway.api.responses import SourceStatus
    from headway.cli.backend import backend

    with backend() as answers:
        rows = answers.sources_status()
    if fmt is Format.json:
        emit_json(rows)
        return
    if fmt is Format.csv:
        emit_csv(rows, SourceStatus.model_fields)
        return
    if not rows:
        console.print(
            "No webhook deliveries yet. Point a webhook at /hooks/<source> of "
            "`headway serve` (docs/webhooks.md)."
        )
        return
    from rich.table import Table

    table = Table(title="Webhook deliveries", title_justify="left")
    for column in ("source", "event", "outcome", "deliveries", "latest", "why"):
        table.add_column(column, justify="right" if column == "deliveries" else "left")
    for row in rows:
        table.add_row(
            row["source"],
            row["kind"],
            row["status"],
            str(row["deliveries"]),
            row["latest"],
            row["note"] or "",
        )
    console.print(table)


def reprocess() -> None:
    """Re-derive every record webhooks produced from the raw payloads kept.

    Run it after changing the mapping (service_map, production environments, incident or
    defect labels): what earlier deliveries produced is replaced by what they mean now.
    With HEADWAY_URL set the server reprocesses its store under its own settings (an admin
    token).
    """
    from headway.cli.backend import backend
    from headway.config import get_settings

    settings = get_settings()
    where = f" on {settings.url}" if settings.url else ""
    with backend(settings) as answers, console.status(f"Reprocessing raw deliveries{where}…"):
        result = answers.reprocess()
    outcomes = ", ".join(f"{n} {k}" for k, n in sorted(result["outcomes"].items())) or "none"
    console.print(
        f"Reprocessed {result['deliveries']} deliveries ({outcomes}); replaced "
        f"{result['removed']} records derived earlier.",
        highlight=False,
    )


__all__ = ["create", "reprocess", "serve", "sources_app", "sources_status"]
