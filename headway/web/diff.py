"""What a change changed: two JSON documents compared leaf by leaf, for the history tables and
the confirmation of a targeting change (a flag's `enabled` going from true to false reads as
one line, not two documents; a list is compared item by item, `rules.0.conditions.1.value`)."""

from __future__ import annotations

import json
from typing import Any

__all__ = ["Change", "changed"]

Change = tuple[str, str, str]  # path, before, after (as JSON text; "–" when absent)
MISSING = object()


def changed(before: Any, after: Any, path: str = "", limit: int = 20) -> list[Change]:
    """The leaves that differ between `before` and `after`, by dotted path, at most `limit`."""
    out: list[Change] = []
    _walk(before, after, path, out)
    return out[:limit]


def _walk(before: Any, after: Any, path: str, out: list[Change]) -> None:
    if isinstance(before, dict) and isinstance(after, dict):
        for key in sorted(set(before) | set(after)):
            _walk(before.get(key, MISSING), after.get(key, MISSING), _join(path, key), out)
        return
    if isinstance(before, list) and isinstance(after, list) and before and after:
        for i in range(max(len(before), len(after))):
            old = before[i] if i < len(before) else MISSING
            new = after[i] if i < len(after) else MISSING
            _walk(old, new, _join(path, i), out)
        return
    if before != after:
        out.append((path or "(whole)", _text(before), _text(after)))


def _join(path: str, key: object) -> str:
    return f"{path}.{key}" if path else str(key)


def _text(value: Any) -> str:
    if value is MISSING:
        return "–"
    text = json.dumps(value, sort_keys=True, default=str)
    return text if len(text) <= 120 else text[:117] + "…"
