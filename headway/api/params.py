"""Query parameters shared by the read routers, so every endpoint accepts the same options
with the same words. Bad values are answered by the app's exception handlers."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Annotated, Any, Literal, TypeVar

from fastapi import Depends, Query, Request, Response
from fastapi.exceptions import RequestValidationError

from headway.config import Settings

T = TypeVar("T")
MAX_OFFSET = 2**31  # past any list a store holds, and within every engine's OFFSET

Service = Annotated[str | None, Query(description="Only this service.")]
Team = Annotated[str | None, Query(description="Only this team's services.")]
Context = Annotated[str | None, Query(description="Only services of this operating context.")]
# What `headway.query.parse_time` reads, stated in the schema so a client (or a fuzzer) knows
# what is accepted; empty is the same as not given. That `since` is before `until` is a rule
# between two parameters, which a schema cannot say: it is answered 400 (docs/decisions.md).
_INSTANT = {
    "anyOf": [
        {"type": "string", "format": "date"},
        {"type": "string", "format": "date-time"},
        {"type": "string", "maxLength": 0},
    ]
}
Since = Annotated[
    str | None,
    Query(description="Start (YYYY-MM-DD or ISO time, UTC).", json_schema_extra=_INSTANT),
]
Until = Annotated[
    str | None, Query(description="End, inclusive when a date.", json_schema_extra=_INSTANT)
]
Definition = Annotated[str | None, Query(description="Definition name, NAME@VERSION or preset.")]
Levels = Annotated[Literal["2023", "2024", "2025"], Query(description="DORA report year.")]
Each = Annotated[
    Literal["service", "team", "context"] | None,
    Query(description="One result per service, team or context inside the scope."),
]
By = Annotated[Literal["week", "month"] | None, Query(description="Add a trend by week or month.")]
# Years 1000 to 9998: a review reads the months before and after the one asked for, and a
# calendar ends at 9999. A day is one every year has (29 February is not written here).
YEAR = r"([1-8][0-9]{3}|9[0-8][0-9]{2}|99[0-8][0-9]|999[0-8])"
MONTH_PATTERN = rf"^{YEAR}-(0[1-9]|1[0-2])$"
DAY = (
    rf"{YEAR}-((0[1-9]|1[0-2])-(0[1-9]|1[0-9]|2[0-8])|(0[13-9]|1[0-2])-(29|30)|(0[13578]|1[02])-31)"
)
Month = Annotated[
    str, Query(description="The month, YYYY-MM.", examples=["2026-10"], pattern=MONTH_PATTERN)
]


@dataclass(frozen=True)
class Page:
    """One page of a list: `limit` rows from `offset`. Every list route takes one, so no answer
    is unbounded; a list with more rows says so with `Link: <...>; rel="next"`."""

    limit: int
    offset: int

    def window(self, rows: Sequence[T], request: Request, response: Response) -> list[T]:
        """This page of `rows` (the whole list, from its first row)."""
        end = self.offset + self.limit
        self._link(request, response, len(rows) > end)
        return list(rows[self.offset : end])

    def fetched(self, rows: Sequence[T], request: Request, response: Response) -> list[T]:
        """This page of `rows` fetched from `offset` with `limit + 1` (one more says more)."""
        self._link(request, response, len(rows) > self.limit)
        return list(rows[: self.limit])

    def _link(self, request: Request, response: Response, more: bool) -> None:
        if more:
            following = request.url.include_query_params(
                limit=self.limit, offset=self.offset + self.limit
            )
            response.headers["Link"] = f'<{following}>; rel="next"'


def page(
    request: Request,
    limit: Annotated[
        int | None,
        Query(
            ge=1,
            description="Rows per page: HEADWAY_PAGE_DEFAULT (100) if not given, at most "
            "HEADWAY_PAGE_MAX (1000). A longer list answers with a Link header, rel=next.",
        ),
    ] = None,
    offset: Annotated[
        int, Query(ge=0, le=MAX_OFFSET, description="Rows to skip (the Link header sets it).")
    ] = 0,
) -> Page:
    settings: Settings = request.app.state.settings
    if limit is not None and limit > settings.page_max:
        raise RequestValidationError(
            [
                {
                    "loc": ("query", "limit"),
                    "msg": f"must be at most {settings.page_max} (HEADWAY_PAGE_MAX); follow the "
                    'Link header (rel="next") for the rest',
                    "type": "less_than_equal",
                }
            ]
        )
    return Page(limit or min(settings.page_default, settings.page_max), offset)


PageDep = Annotated[Page, Depends(page)]


def declare_page_max(schema: dict[str, Any], page_max: int) -> dict[str, Any]:
    """`schema` (an OpenAPI document) with every `limit` parameter's maximum set to this
    server's HEADWAY_PAGE_MAX, which is read when the app starts, after the routes exist."""
    for operations in schema.get("paths", {}).values():
        for operation in operations.values():
            for parameter in operation.get("parameters", []):
                if parameter.get("name") == "limit" and parameter.get("in") == "query":
                    for kind in parameter["schema"].get("anyOf", [parameter["schema"]]):
                        if kind.get("type") == "integer":
                            kind["maximum"] = page_max
    return schema
