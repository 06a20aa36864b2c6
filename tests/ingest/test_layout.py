"""The write path keeps its shape: adapters hold no SQL, no SQL is written outside the store
and the metrics queries, and the write path's modules stay readable."""

from __future__ import annotations

import re
from pathlib import Path

import headway

PACKAGE = Path(headway.__file__).parent
SQL = re.compile(
    r"\b(SELECT|UPDATE|INSERT INTO|DELETE FROM|COPY)\b [^\n]*\b(FROM|SET|VALUES|WHERE|TO)\b"
)
# The only places statements are written: the store, and the metrics' query module.
OWNERS = ("store/", "metrics/queries/")


def test_no_adapter_holds_sql() -> None:
    # (import-linter forbids `sources` the store; this catches a query passed in as text)
    found = [
        f"{path.relative_to(PACKAGE)}:{n}"
        for path in sorted((PACKAGE / "sources").rglob("*.py"))
        for n, line in enumerate(path.read_text().splitlines(), 1)
        if SQL.search(line)
    ]
    assert found == []


def test_no_sql_outside_the_store_and_the_metrics_queries() -> None:
    found = [
        f"{rel}:{n}"
        for path in sorted(PACKAGE.rglob("*.py"))
        if not (rel := path.relative_to(PACKAGE).as_posix()).startswith(OWNERS)
        for n, line in enumerate(path.read_text().splitlines(), 1)
        if SQL.search(line)
    ]
    assert found == []
    # and the pattern finds a statement where one is written
    assert SQL.search("COPY (SELECT * FROM deployments) TO 'x' (FORMAT parquet)")


def test_every_module_of_the_write_path_fits_in_400_lines() -> None:
    sizes = {
        str(path.relative_to(PACKAGE)): len(path.read_text().splitlines())
        for path in (PACKAGE / "ingest").rglob("*.py")
    }
    assert {name: n for name, n in sizes.items() if n > 400} == {}
