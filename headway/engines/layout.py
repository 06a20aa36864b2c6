"""The Parquet layout of an export, which every engine reads the same way.

    DIR/_headway.json                 what was exported: format, schema version, row counts
    DIR/<table>/part-00000.parquet    one folder per canonical table, any number of parts

A folder per table is what Spark, DuckDB, Trino and the lakehouse formats expect of a table
on storage: more parts can be added beside the first, and the folder is the table.
Timestamps are UTC without a zone (Parquet `isAdjustedToUTC=false`, microseconds), as the
store keeps them, so Spark reads them as TIMESTAMP_NTZ and no session time zone moves them.
"""

from __future__ import annotations

from pathlib import Path

# The canonical tables the analytics read (approvals since format 2: the flow's gates;
# pipeline runs and escaped defects since format 3: the friction signals).
TABLES = (
    "services",
    "deployments",
    "changes",
    "incidents",
    "approvals",
    "pipeline_runs",
    "defects",
)
MANIFEST = "_headway.json"
FORMAT = 3


def table_folder(folder: Path, table: str) -> Path:
    return folder / table


def first_part(folder: Path, table: str) -> Path:
    return table_folder(folder, table) / "part-00000.parquet"
