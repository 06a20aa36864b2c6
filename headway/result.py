"""The strict base of every typed answer Headway gives, and the number type they share.

Owns: `Result` and `Number`. May import: pydantic and the standard library only, so that
every package can type its answers without importing another package's results.
"""

from __future__ import annotations

import os
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, WithJsonSchema, model_validator

# A number as the producer computed it: an int stays an int, a float a float, so a document
# passes through its model unchanged (pydantic's `float` would turn 17 into 17.0).
Number = Annotated[int | float, WithJsonSchema({"type": "number"})]


class Result(BaseModel):
    """A frozen result. A field its producer adds without declaring it here is dropped from
    the answer in production, never turned into a 500; with HEADWAY_STRICT_RESULTS set (the
    test suite sets it) it is an error instead, so every test that reads an answer catches it."""

    model_config = ConfigDict(frozen=True, extra="ignore", populate_by_name=True)

    @model_validator(mode="before")
    @classmethod
    def _declared_only(cls, data: Any) -> Any:
        if isinstance(data, dict) and os.environ.get("HEADWAY_STRICT_RESULTS"):
            known = set(cls.model_fields) | {f.alias for f in cls.model_fields.values() if f.alias}
            undeclared = sorted(set(data) - known)
            if undeclared:
                raise ValueError(f"{cls.__name__} does not declare {', '.join(undeclared)}")
        return data
