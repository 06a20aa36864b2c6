"""The floor `bench/webhooks.py` holds Headway's webhook ingest to: the least a signed-webhook
receiver on the same stack does for each delivery.

    python -m uvicorn webhook_floor:create --factory --app-dir bench --workers N

uvicorn and FastAPI as `headway serve`; `POST /hooks/github` and `/hooks/pagerduty` check the
HMAC-SHA256 signature of the body exactly as those senders sign it (GitHub
`X-Hub-Signature-256: sha256=<hex>`, PagerDuty `X-PagerDuty-Signature: v1=<hex>[,…]`), then
run one `INSERT … ON CONFLICT DO NOTHING` of the raw body into PostgreSQL, in autocommit, on a
connection taken from a small pool (psycopg's async connections, `FLOOR_POOL` per worker,
default 16: the fastest of 4, 8, 16 and 32 here), and answer 200. Nothing else: no JSON parsing, no mapping to records, no linking.
The key is the signature digest the check has already computed, so a redelivery (same body)
stores nothing new, which is the floor's whole notion of exactly once.

Settings from the environment: `FLOOR_DATABASE` (a PostgreSQL URL whose search_path names the
schema holding the `floor_deliveries` table, created by the benchmark), `FLOOR_SECRET`.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import psycopg
from fastapi import FastAPI, Request, Response

# Table and statement shared with bench/webhooks.py, which creates the table in each run's schema.
TABLE = "CREATE TABLE floor_deliveries (digest text PRIMARY KEY, source text, body bytea)"
INSERT = (
    "INSERT INTO floor_deliveries (digest, source, body) VALUES (%s, %s, %s) ON CONFLICT DO NOTHING"
)
SIGNATURES = {  # source: (header, prefix of each signature in it)
    "github": ("x-hub-signature-256", "sha256="),
    "pagerduty": ("x-pagerduty-signature", "v1="),
}


class Pool:
    """A fixed set of open connections handed out one request at a time."""

    def __init__(self, url: str, size: int) -> None:
        self.url, self.size = url, size
        self.idle: asyncio.Queue[psycopg.AsyncConnection[Any]] = asyncio.Queue()

    async def open(self) -> None:
        for _ in range(self.size):
            self.idle.put_nowait(await psycopg.AsyncConnection.connect(self.url, autocommit=True))

    async def close(self) -> None:
        while not self.idle.empty():
            await self.idle.get_nowait().close()

    async def execute(self, statement: str, params: tuple[Any, ...]) -> None:
        connection = await self.idle.get()
        try:
            await connection.execute(statement, params)
        finally:
            self.idle.put_nowait(connection)


def create() -> FastAPI:
    secret = os.environ["FLOOR_SECRET"].encode()
    pool = Pool(os.environ["FLOOR_DATABASE"], int(os.environ.get("FLOOR_POOL", "16")))

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        await pool.open()
        yield
        await pool.close()

    app = FastAPI(lifespan=lifespan)

    @app.post("/hooks/{source}")
    async def receive(source: str, request: Request) -> Response:
        if source not in SIGNATURES:
            return Response(status_code=404)
        header, prefix = SIGNATURES[source]
        body = await request.body()
        digest = hmac.new(secret, body, hashlib.sha256).hexdigest()
        sent = request.headers.get(header, "").split(",")
        if not any(hmac.compare_digest(s.strip(), prefix + digest) for s in sent):
            return Response(status_code=401)
        await pool.execute(INSERT, (digest, source, body))
        return Response(status_code=200)

    @app.get("/healthz")
    async def healthz() -> Response:
        return Response(status_code=200)

    return app
