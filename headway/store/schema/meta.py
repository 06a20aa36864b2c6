"""The one `MetaData` every table of the store is declared in."""

from __future__ import annotations

from sqlalchemy import MetaData

metadata = MetaData()
