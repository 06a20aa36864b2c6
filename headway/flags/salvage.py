"""Reading back stored flags and segments that no longer validate, without failing the reader.

Every write validates (`parse_flag`, `parse_segment`), but a store can still hold a document
that does not: written by an older version with looser rules, restored from a backup, edited by
hand. Such a document must not make listing, editing or killing any flag fail, nor take the
other flags down with it. `read_flag` gives what can still be shown and served: the flag's
switched-off environments keep serving their off variant (so a kill switch works on it), the
others are left out, and its description starts with what is wrong. Evaluators see the stored
document itself and answer the caller's default with reason ERROR (see `snapshot`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, get_args

import orjson
from pydantic import ValidationError

from headway.flags.model import (
    Flag,
    FlagType,
    Issue,
    Segment,
    _pydantic_issues,
    check_flag,
)

__all__ = ["INVALID", "read_flag", "read_segment", "stored_document"]

INVALID = "[invalid stored document]"  # the start of a salvaged flag's or segment's description


def stored_document(raw: str | bytes) -> dict[str, Any]:
    """The stored JSON as an object; anything else (not JSON, not an object) as an empty one."""
    try:
        doc = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return {}
    return doc if isinstance(doc, dict) else {}


def _issues(doc: Mapping[str, Any]) -> list[Issue]:
    try:
        flag = Flag.model_validate(doc)
    except ValidationError as exc:
        return _pydantic_issues(exc)
    return check_flag(flag)


def _note(issues: list[Issue], description: Any) -> str:
    first = str(issues[0]) if issues else "unreadable JSON"
    more = f" (and {len(issues) - 1} more)" if len(issues) > 1 else ""
    rest = f" {description}" if isinstance(description, str) and description else ""
    return f"{INVALID} {first}{more}; replace it to repair it.{rest}"


def read_flag(key: str, raw: str | bytes, version: int = 0) -> tuple[Flag, list[Issue]]:
    """The flag stored under `key` at `version`, and what is wrong with its document (nothing
    if it is valid)."""
    try:
        flag = Flag.model_validate_json(raw)
    except ValidationError:
        pass
    else:
        if not check_flag(flag):  # pydantic alone passes a rule serving an unknown variant
            return flag, []
    doc = stored_document(raw)
    issues = _issues(doc) if doc else [Issue(path="", message="not a JSON object")]
    note = _note(issues, doc.get("description"))
    base = {**doc, "key": key, "description": note, "version": version}
    kept: dict[str, Any] = {}
    environments = doc.get("environments")
    for name, env in (environments if isinstance(environments, dict) else {}).items():
        if not _issues({**base, "environments": {name: env}}):
            kept[name] = env  # this environment is sound: it keeps serving what it says
        elif isinstance(env, dict) and env.get("enabled") is False:
            variant = env.get("off_variant")
            kept[name] = {"enabled": False, "off_variant": variant, "default": {"variant": variant}}
    attempts = [{**base, "environments": kept}, {**base, "environments": {}}]
    for attempt in attempts:
        try:
            flag = Flag.model_validate(attempt)
        except ValidationError:
            continue
        if not check_flag(flag):
            return flag, issues
    return _skeleton(key, doc, note, version), issues


def _skeleton(key: str, doc: Mapping[str, Any], note: str, version: int) -> Flag:
    """A valid flag with the stored key, type and owner and one variant serving nothing."""
    kind = str(doc.get("type")) if doc.get("type") in get_args(FlagType) else "json"
    value = {"boolean": False, "string": "", "number": 0, "json": None}[kind]
    owner = doc.get("owner")
    return Flag.model_validate(
        {
            "key": key,
            "type": kind,
            "description": note,
            "owner": owner if isinstance(owner, str) and owner else "unknown",
            "variants": [{"key": "invalid", "value": value}],
            "lifecycle": {"kind": "permanent"},
            "version": version,
        }
    )


def read_segment(key: str, raw: str | bytes, version: int = 0) -> tuple[Segment, list[Issue]]:
    """The segment stored under `key`, and what is wrong with it; a broken one lists no one."""
    try:
        return Segment.model_validate_json(raw), []
    except ValidationError as exc:
        issues = _pydantic_issues(exc)
    doc = stored_document(raw)
    segment = Segment(key=key, description=_note(issues, doc.get("description")), version=version)
    return segment, issues
