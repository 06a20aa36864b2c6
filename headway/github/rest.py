"""Headway's calls to GitHub's REST API: one client, its errors, pages and rate limits.

Every answer's rate-limit headers are read. A refusal because the limit is spent (403 or 429
with `x-ratelimit-remaining: 0`, or a `retry-after`) waits until the reset when that is at most
`max_wait` seconds away, once, and otherwise raises `RateLimited` saying when to try again.
Pages follow the `Link: <…>; rel="next"` header, on the API's own host only.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final
from urllib.parse import urlsplit

import httpx

__all__ = ["API_URL", "GitHubClient", "GitHubError", "RateLimit", "RateLimited"]

API_URL: Final = "https://api.github.com"
API_VERSION: Final = "2022-11-28"
_NEXT = re.compile(r'<([^>]+)>\s*;\s*rel="next"')


class GitHubError(Exception):
    """GitHub refused a request; `status` is its HTTP status, the message GitHub's own."""

    def __init__(self, status: int, method: str, path: str, message: str) -> None:
        super().__init__(f"GitHub answered {status} to {method} {path}: {message}")
        self.status = status


class RateLimited(GitHubError):
    def __init__(self, method: str, path: str, reset: datetime) -> None:
        super().__init__(
            403, method, path, f"the rate limit is spent until {reset:%Y-%m-%d %H:%M:%S} UTC"
        )
        self.reset = reset


@dataclass(frozen=True, slots=True)
class RateLimit:
    limit: int
    remaining: int
    reset: datetime


def _now() -> datetime:
    return datetime.now(UTC)


def _message(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return response.text[:200] or response.reason_phrase
    if not isinstance(body, dict):
        return response.reason_phrase
    message = str(body.get("message") or response.reason_phrase)
    errors = body.get("errors")
    if isinstance(errors, list) and errors:  # 422: which field and why
        details = [
            f"{e.get('field', '?')} {e.get('code', '')}".strip() if isinstance(e, dict) else str(e)
            for e in errors[:5]
        ]
        message += f" ({'; '.join(details)})"
    return message


class GitHubClient:
    def __init__(
        self,
        base_url: str = API_URL,
        *,
        transport: httpx.BaseTransport | None = None,
        clock: Callable[[], datetime] = _now,
        sleep: Callable[[float], None] = time.sleep,
        max_wait: float = 60.0,
        timeout: float = 30.0,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self._host = urlsplit(self.base_url).netloc
        self._http = httpx.Client(
            base_url=self.base_url,
            transport=transport,
            timeout=timeout,
            follow_redirects=False,
            headers={
                "Accept": "application/vnd.github+json",
                "X-GitHub-Api-Version": API_VERSION,
                "User-Agent": "headway",
            },
        )
        self.clock = clock
        self.sleep = sleep
        self.max_wait = max_wait
        self.rate_limit: RateLimit | None = None

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> GitHubClient:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def _note_limit(self, response: httpx.Response) -> None:
        headers = response.headers
        try:
            self.rate_limit = RateLimit(
                int(headers["x-ratelimit-limit"]),
                int(headers["x-ratelimit-remaining"]),
                datetime.fromtimestamp(int(headers["x-ratelimit-reset"]), UTC),
            )
        except (KeyError, ValueError):
            return

    def _wait(self, response: httpx.Response) -> float | None:
        """Seconds to wait before trying again, when the refusal is a rate limit."""
        if response.status_code not in (403, 429):
            return None
        retry_after = response.headers.get("retry-after", "")
        if retry_after.isdigit():
            return float(retry_after)
        if response.headers.get("x-ratelimit-remaining") == "0" and self.rate_limit:
            return max(0.0, (self.rate_limit.reset - self.clock()).total_seconds()) + 1
        return None

    def request(
        self, method: str, url: str, *, token: str | None = None, **kwargs: Any
    ) -> httpx.Response:
        """Send one request (a path, or a full URL on the API's host); raise on refusal."""
        if url.startswith("http") and urlsplit(url).netloc != self._host:
            raise GitHubError(0, method, url, f"refusing to follow a link off {self._host}")
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        for attempt in (1, 2):
            try:
                response = self._http.request(method, url, headers=headers, **kwargs)
            except httpx.HTTPError as error:  # GitHub unreachable: say so, never a 500
                raise GitHubError(
                    502, method, urlsplit(url).path, f"cannot reach {self._host}: {error}"
                ) from None
            self._note_limit(response)
            wait = self._wait(response)
            if wait is None or response.status_code < 400:
                break
            if attempt == 2 or wait > self.max_wait:
                reset = self.rate_limit.reset if self.rate_limit else self.clock()
                raise RateLimited(method, urlsplit(url).path, reset)
            self.sleep(wait)
        if response.status_code >= 400:
            raise GitHubError(response.status_code, method, urlsplit(url).path, _message(response))
        return response

    def json(self, method: str, url: str, *, token: str | None = None, **kwargs: Any) -> Any:
        return self.request(method, url, token=token, **kwargs).json()

    def paginate(
        self,
        path: str,
        *,
        token: str | None = None,
        key: str | None = None,
        params: dict[str, Any] | None = None,
        progress: Callable[[int], None] | None = None,
    ) -> Iterator[Any]:
        """Every item of every page; `key` names the list in an object page
        (`repositories` of /installation/repositories). `progress` hears the count so far."""
        url: str | None = path
        query: dict[str, Any] | None = {"per_page": 100, **(params or {})}
        seen = 0
        while url is not None:
            response = self.request("GET", url, token=token, params=query)
            page = response.json()
            items = page.get(key, []) if key and isinstance(page, dict) else page
            if not isinstance(items, list):
                raise GitHubError(
                    response.status_code, "GET", path, "the answer is not a list of items"
                )
            yield from items
            seen += len(items)
            if progress is not None:
                progress(seen)
            found = _NEXT.search(response.headers.get("link", ""))
            url, query = (found.group(1), None) if found else (None, None)
