"""Fixtures for source adapters: small git repositories built commit by commit."""

from __future__ import annotations

import json
import os
import subprocess
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from headway.config import Settings
from headway.ingest import deliveries
from headway.sources.mapping import Mapping
from headway.store import Store


class RepoBuilder:
    """A git repository whose every commit and tag has an exact date and offset."""

    def __init__(self, path: Path) -> None:
        self.path = path
        path.mkdir(parents=True, exist_ok=True)
        self.git("init", "-q", "-b", "main")

    def git(self, *args: str, date: str | None = None, author: str = "Ada Lovelace") -> str:
        env = {
            **os.environ,
            "GIT_AUTHOR_NAME": author,
            "GIT_AUTHOR_EMAIL": "ada@example.org",
            "GIT_COMMITTER_NAME": "Release Bot",
            "GIT_COMMITTER_EMAIL": "bot@example.org",
            "GIT_CONFIG_GLOBAL": "/dev/null",
            "GIT_CONFIG_NOSYSTEM": "1",
        }
        if date:
            env["GIT_AUTHOR_DATE"] = env["GIT_COMMITTER_DATE"] = date
        done = subprocess.run(
            ["git", "-C", str(self.path), *args],
            env=env,
            check=True,
            capture_output=True,
            text=True,
        )
        return done.stdout.strip()

    def commit(
        self,
        message: str,
        date: str,
        *,
        lines: int = 1,
        author: str = "Ada Lovelace",
        file: str | None = None,
    ) -> str:
        name = file or f"f{len(list(self.path.glob('*.txt')))}.txt"
        with (self.path / name).open("a") as handle:
            handle.write("".join(f"{message[:20]} {i}\n" for i in range(lines)))
        self.git("add", name)
        self.git("commit", "-q", "-m", message, date=date, author=author)
        return self.head()

    def merge(self, branch: str, message: str, date: str) -> str:
        self.git("merge", "-q", "--no-ff", "-m", message, branch, date=date)
        return self.head()

    def tag(self, name: str, date: str | None = None, ref: str = "HEAD") -> None:
        if date:  # annotated: the tagger date is the deployment time
            self.git("tag", "-a", name, "-m", f"Release {name}", ref, date=date)
        else:
            self.git("tag", name, ref)

    def head(self) -> str:
        return self.git("rev-parse", "HEAD")


@pytest.fixture
def repo_builder(tmp_path: Path) -> RepoBuilder:
    return RepoBuilder(tmp_path / "shop")


def deliver_webhook(
    store: Store, settings: Settings, source: str, kind: str, body: Any, outcome: str = "accepted"
) -> None:
    """Take one webhook delivery as the server does (interpret, keep the raw event, commit);
    it must end as `outcome` (a push delivered again is `ignored`: the same event)."""
    received = datetime.now(UTC)
    parsed = deliveries.interpret(
        source,
        kind,
        body,
        Mapping.from_settings(settings),
        received,
        settings.webhook_max_skew_s,
        deliveries.parsers()[source],
    )
    raw = deliveries.raw_event(source, str(uuid.uuid4()), kind, json.dumps(body), received, parsed)
    assert deliveries.commit(store, settings, [deliveries.Delivery(raw, parsed)]) == [outcome]
