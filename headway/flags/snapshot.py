"""One environment's flag configuration as distributed to SDKs, and its compiled form.

The same document is served by `/sdk/config`, pushed over `/sdk/stream`, read from bootstrap
files, and evaluated by OFREP on the server, so every evaluator agrees. Its ETag is a hash of
its canonical bytes: any replica serving the same configuration gives the same ETag.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, TypeVar

import orjson
import xxhash
from pydantic import ValidationError

from headway.flags.evaluate import CompiledFlag, ErrorCode, compile_flag, error_result
from headway.flags.model import SEGMENT_OPERATORS, Flag, Segment, check_flag

__all__ = ["Invalid", "Snapshot", "build_snapshot", "config_document", "etag_of"]

FORMAT = 1


def config_document(
    environment: str,
    flags: list[Flag],
    segments: list[Segment],
    *,
    invalid_flags: Mapping[str, Mapping[str, Any]] | None = None,
    invalid_segments: Mapping[str, Mapping[str, Any]] | None = None,
) -> dict[str, Any]:
    """The wire document for one environment: live flags, trimmed to that environment.

    A flag whose stored document does not validate (`invalid_flags`, by key) is served as read
    back where that still serves something (an environment switched off serves its off
    variant), else as stored, which every evaluator answers with the caller's default and
    reason ERROR; a segment that does not validate is served as stored, and so are the flags
    that refer to it.
    """
    invalid_flags = invalid_flags or {}
    docs = []
    for flag in sorted(flags, key=lambda f: f.key):
        if flag.archived:
            continue
        env = flag.environments.get(environment)
        stored = invalid_flags.get(flag.key)
        if stored is not None and env is None:
            envs = stored.get("environments")
            raw_env = envs.get(environment) if isinstance(envs, Mapping) else None
            docs.append({**stored, "key": flag.key, "environments": {environment: raw_env}})
            continue
        doc = flag.model_dump(mode="json", exclude={"environments"})
        doc["environments"] = {environment: env.model_dump(mode="json")} if env else {}
        docs.append(doc)
    stored_segments = [
        {"conditions": None, **doc, "key": key}  # an unreadable one is never an empty segment
        for key, doc in sorted((invalid_segments or {}).items())
    ]
    return {
        "format": FORMAT,
        "environment": environment,
        "flags": docs,
        "segments": [s.model_dump(mode="json") for s in sorted(segments, key=lambda s: s.key)]
        + stored_segments,
    }


def etag_of(body: bytes) -> str:
    return f'"{xxhash.xxh3_128_hexdigest(body)}"'


@dataclass(frozen=True)
class Snapshot:
    """A parsed, validated configuration. `flags` maps flag key to its compiled evaluator."""

    environment: str
    etag: str
    body: bytes  # canonical JSON, as served
    definitions: Mapping[str, Flag] = field(repr=False)
    segments: Mapping[str, Segment] = field(repr=False)
    # Each flag's and segment's canonical JSON, to recognise what a change left alone.
    flag_documents: Mapping[str, bytes] = field(repr=False, default_factory=dict)
    segment_documents: Mapping[str, bytes] = field(repr=False, default_factory=dict)
    # Flags whose document does not validate, or that refer to a segment that does not: each
    # evaluates to the caller's default with reason ERROR; the others are unaffected.
    invalid: Mapping[str, Invalid] = field(repr=False, default_factory=dict)

    @cached_property
    def flags(self) -> Mapping[str, CompiledFlag]:
        # Compiled on first use: the server's OFREP needs these evaluators, while an SDK
        # compiles its own (with exposure recorders) and would pay for these for nothing on
        # every configuration it receives.
        compiled = {key: bad.compiled() for key, bad in self.invalid.items()}
        for key, flag in self.definitions.items():
            compiled[key] = compile_flag(
                flag, self.environment, self.segments, flags=self.definitions
            )
        return compiled


@dataclass(frozen=True, slots=True)
class Invalid:
    """A flag of the configuration that cannot be evaluated, and why."""

    key: str
    type: str
    message: str
    client_side: bool = False  # whether a client key may see that it exists

    def compiled(self) -> CompiledFlag:
        failure = error_result(self.key, ErrorCode.PARSE_ERROR, self.message)
        return CompiledFlag(self.key, self.type, 0, lambda ctx: failure)


def build_snapshot(
    document: Mapping[str, Any] | bytes, previous: Snapshot | None = None
) -> Snapshot:
    """Validate a config document; raises ValueError if it is not one.

    With `previous`, a flag or segment whose document is unchanged is not validated again: the
    new snapshot holds the previous one's object for it (so `is` tells what a change touched).
    """
    if isinstance(document, bytes | bytearray):
        document = orjson.loads(document)
    if not isinstance(document, Mapping) or document.get("format") != FORMAT:
        raise ValueError("not a Headway flag configuration (format 1)")
    environment = str(document["environment"])
    known = previous if previous is not None and previous.environment == environment else None
    segments, segment_documents, bad_segments = _validated(
        document.get("segments", []),
        Segment,
        known.segments if known else {},
        known.segment_documents if known else {},
    )
    definitions, flag_documents, invalid = _validated(
        document.get("flags", []),
        Flag,
        known.definitions if known else {},
        known.flag_documents if known else {},
    )
    for key, flag in list(definitions.items()):
        issues = check_flag(flag)
        broken = sorted(_segments_of(flag) - segments.keys())
        if issues or broken:
            del definitions[key]
            state = "is invalid" if broken and broken[0] in bad_segments else "does not exist"
            why = str(issues[0]) if issues else f"segment '{broken[0]}' {state}"
            message = f"flag '{key}' cannot be evaluated: {why}"
            invalid[key] = Invalid(key, flag.type, message, flag.client_side)
    body = orjson.dumps(document, option=orjson.OPT_SORT_KEYS)
    return Snapshot(
        environment,
        etag_of(body),
        body,
        definitions,
        segments,
        flag_documents,
        segment_documents,
        invalid,
    )


def _segments_of(flag: Flag) -> set[str]:
    return {
        key
        for env in flag.environments.values()
        for rule in env.rules
        for cond in rule.conditions
        if cond.operator in SEGMENT_OPERATORS
        for key in cond.value
    }


M = TypeVar("M", Flag, Segment)


def _validated(
    documents: Any, model: type[M], known: Mapping[str, M], known_documents: Mapping[str, bytes]
) -> tuple[dict[str, M], dict[str, bytes], dict[str, Invalid]]:
    """Each document validated as `model`, keyed by its key, with its canonical bytes; one whose
    bytes equal those a known object was made from is that object. A document that does not
    validate is left out and named in the third result, if it has a key to name it by."""
    objects: dict[str, M] = {}
    canonical: dict[str, bytes] = {}
    invalid: dict[str, Invalid] = {}
    if not isinstance(documents, list):
        raise ValueError("not a Headway flag configuration: flags and segments must be lists")
    for doc in documents:
        raw = orjson.dumps(doc, option=orjson.OPT_SORT_KEYS)
        key = doc.get("key") if isinstance(doc, Mapping) else None
        reused = known.get(key) if isinstance(key, str) else None
        if reused is not None and known_documents.get(reused.key) == raw:
            obj = reused
        else:
            try:
                obj = model.model_validate(doc)
            except ValidationError as exc:
                if isinstance(key, str):
                    kind = doc.get("type")
                    error = exc.errors(include_url=False)[0]
                    where = ".".join(str(p) for p in error["loc"])
                    message = f"'{key}' is invalid: {where}: {error['msg']}"
                    kind = kind if isinstance(kind, str) else "json"
                    invalid[key] = Invalid(key, kind, message, doc.get("client_side") is True)
                continue
        objects[obj.key] = obj
        canonical[obj.key] = raw
    return objects, canonical, invalid
