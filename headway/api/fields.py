"""Field types shared by request bodies, so a body is read as its schema says and no looser.

Pydantic's lax mode would take `false` for a count, `"1"` for a number and `0` for a time
(seconds since 1970): values the OpenAPI document calls invalid. Bodies declare
`model_config = STRICT` and their times with `Instant`: a number or boolean of the wrong type
is a 422 naming the field, as the document promises.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from pydantic import AwareDatetime, BeforeValidator, ConfigDict, Field

__all__ = ["STRICT", "AwareInstant", "Instant"]

# Strict in Python mode, as FastAPI validates the parsed body: `str` stays `str`, a `float`
# field still takes an integer, and a boolean is not a number.
STRICT = ConfigDict(strict=True)


def _text(value: Any) -> Any:
    if isinstance(value, str | datetime):
        return value
    raise ValueError("write an ISO 8601 time such as 2026-10-01T12:00:00Z")


# Lax for the text itself (strict would take only a datetime object), never for a number.
Instant = Annotated[datetime, Field(strict=False), BeforeValidator(_text)]
AwareInstant = Annotated[AwareDatetime, Field(strict=False), BeforeValidator(_text)]
