"""Query parameters shared by the read routers, so every endpoint accepts the same options
with the same words. Bad values are answered by the app's exception handlers."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import Query

Service = Annotated[str | None, Query(description="Only this service.")]
Team = Annotated[str | None, Query(description="Only this team's services.")]
Context = Annotated[str | None, Query(description="Only services of this operating context.")]
Since = Annotated[str | None, Query(description="Start (YYYY-MM-DD or ISO time, UTC).")]
Until = Annotated[str | None, Query(description="End, inclusive when a date.")]
Definition = Annotated[str | None, Query(description="Definition name, NAME@VERSION or preset.")]
Levels = Annotated[Literal["2023", "2024", "2025"], Query(description="DORA report year.")]
Each = Annotated[
    Literal["service", "team", "context"] | None,
    Query(description="One result per service, team or context inside the scope."),
]
By = Annotated[Literal["week", "month"] | None, Query(description="Add a trend by week or month.")]
Month = Annotated[str, Query(description="The month, YYYY-MM.", examples=["2026-10"])]
Limit = Annotated[int | None, Query(ge=1, description="At most this many rows.")]
