"""The write path keeps its shape: adapters hold no SQL, and its modules stay readable."""

from __future__ import annotations

import re
from pathlib import Path

import headway

PACKAGE = Path(headway.__file__).parent
SQL = re.compile(r"\b(SELECT|UPDATE|INSERT INTO|DELETE FROM)\b [^\n]*\b(FROM|SET|VALUES|WHERE)\b")


def test_no_adapter_holds_sql() -> None:
    # (import-linter forbids `sources` the store; this catches a query passed in as text)
    found = [
        f"{path.relative_to(PACKAGE)}:{n}"
        for path in sorted((PACKAGE / "sources").rglob("*.py"))
        for n, line in enumerate(path.read_text().splitlines(), 1)
        if SQL.search(line)
    ]
    assert found == []


def test_every_module_of_the_write_path_fits_in_400_lines() -> None:
    sizes = {
        str(path.relative_to(PACKAGE)): len(path.read_text().splitlines())
        for path in (PACKAGE / "ingest").rglob("*.py")
    }
    assert {name: n for name, n in sizes.items() if n > 400} == {}
