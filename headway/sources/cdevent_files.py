"""CDEvents files: one event, a JSON array of events, or JSON Lines, in files and directories,
parsed whole before anything is written (`headway import cdevents`)."""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from headway.sources.cdevents import CDEventError, ParsedEvent, parse

__all__ = ["Batch", "read_paths"]


@dataclass
class Batch:
    parsed: list[ParsedEvent] = field(default_factory=list)
    ignored: dict[str, int] = field(default_factory=dict)

    @property
    def events(self) -> int:
        return len(self.parsed)


def _events_in(path: Path) -> Iterator[tuple[str, Any]]:
    """(where, event) for a JSON file holding one event or a list, or JSON Lines."""
    text = path.read_text(encoding="utf-8")
    try:
        data = json.loads(text)
    except json.JSONDecodeError as first:
        lines = [ln for ln in text.splitlines() if ln.strip()]
        if len(lines) < 2:
            raise CDEventError(
                f"{path}: not valid JSON (line {first.lineno}: {first.msg}); a CDEvents file "
                "holds one event object, a JSON array of events, or one event per line"
            ) from None
        for n, line in enumerate(text.splitlines(), 1):
            if line.strip():
                try:
                    yield f"{path}:{n}", json.loads(line)
                except json.JSONDecodeError as error:
                    raise CDEventError(f"{path}:{n}: not valid JSON ({error.msg})") from None
        return
    if isinstance(data, list):
        for i, event in enumerate(data):
            yield f"{path}[{i}]", event
    else:
        yield str(path), data


def read_paths(paths: Sequence[Path], default_service: str | None = None) -> Batch:
    """Parse every event in files and directories (*.json, *.jsonl); the first bad one stops
    everything, so nothing of a bad batch is written."""
    files: list[Path] = []
    for p in paths:
        if p.is_dir():
            files.extend(
                sorted(q for q in p.iterdir() if q.suffix in (".json", ".jsonl") and q.is_file())
            )
        elif p.is_file():
            files.append(p)
        else:
            raise CDEventError(
                f"{p} does not exist; pass CDEvents JSON files or directories of them"
            )
    if not files:
        raise CDEventError(f"no .json or .jsonl files in {', '.join(map(str, paths))}")
    batch = Batch()
    now = datetime.now(UTC)
    for path in files:
        for where, event in _events_in(path):
            try:
                parsed = parse(event, default_service=default_service, received_at=now)
            except CDEventError as error:
                raise CDEventError(f"{where}: {error}") from None
            batch.parsed.append(parsed)
            if parsed.status == "ignored":
                batch.ignored[parsed.kind] = batch.ignored.get(parsed.kind, 0) + 1
    return batch
