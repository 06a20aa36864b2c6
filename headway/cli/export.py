"""`headway export parquet DIR`: the canonical tables as Parquet, for Spark and other engines."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from headway.cli.backend import backend
from headway.cli.common import fail
from headway.output import console

app = typer.Typer(no_args_is_help=True)


@app.callback()
def export() -> None:
    """Export the store's canonical tables for an analytics engine (docs/engines.md)."""


@app.command("parquet")
def export_parquet_command(
    folder: Annotated[Path, typer.Argument(help="Folder to write; new, empty or an export.")],
) -> None:
    """Write services, deployments, changes and incidents as Parquet under FOLDER.

    One folder per table (FOLDER/deployments/part-00000.parquet …) and a manifest
    (FOLDER/_headway.json) with the row counts, read in one snapshot of the store. Spark
    reads it with HEADWAY_ENGINE=spark HEADWAY_ENGINE_PARQUET=FOLDER. With HEADWAY_URL
    set, the server exports its store and the folder is written here.
    """
    try:
        from headway.engines import EngineError
    except ImportError as error:
        fail(f"the export needs the engines extra: pip install 'headway[spark]' ({error})")
    with backend() as answers:
        try:
            done = answers.export_parquet(folder)
        except EngineError as error:
            fail(str(error))
        except OSError as error:  # a folder that cannot be made or written
            fail(f"cannot write the export to {folder}: {error.strerror or error}")
    total = sum(done.rows.values())
    tables = ", ".join(f"{n} {name}" for name, n in done.rows.items())
    console.print(f"Exported {total} rows to {done.folder}: {tables}.")
