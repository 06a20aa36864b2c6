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

from headway.flags.evaluate import CompiledFlag, compile_flag
from headway.flags.model import Flag, Segment

__all__ = ["Snapshot", "build_snapshot", "config_document", "etag_of"]

FORMAT = 1


def config_document(environment: str, flags: list[Flag], segments: list[Segment]) -> dict[str, Any]:
    """The wire document for one environment: live flags, trimmed to that environment."""
    docs = []
    for flag in sorted(flags, key=lambda f: f.key):
        if flag.archived:
            continue
        doc = flag.model_dump(mode="json", exclude={"environments"})
        env = flag.environments.get(environment)
        doc["environments"] = {environment: env.model_dump(mode="json")} if env else {}
        docs.append(doc)
    return {
        "format": FORMAT,
        "environment": environment,
        "flags": docs,
        "segments": [s.model_dump(mode="json") for s in sorted(segments, key=lambda s: s.key)],
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

    @cached_property
    def flags(self) -> Mapping[str, CompiledFlag]:
        # Compiled on first use: the server's OFREP needs these evaluators, while an SDK
        # compiles its own (with exposure recorders) and would pay for these for nothing on
        # every configuration it receives.
        return {
            key: compile_flag(flag, self.environment, self.segments)
            for key, flag in self.definitions.items()
        }


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
    segments, segment_documents = _validated(
        document.get("segments", []),
        Segment,
        known.segments if known else {},
        known.segment_documents if known else {},
    )
    definitions, flag_documents = _validated(
        document.get("flags", []),
        Flag,
        known.definitions if known else {},
        known.flag_documents if known else {},
    )
    body = orjson.dumps(document, option=orjson.OPT_SORT_KEYS)
    return Snapshot(
        environment,
        etag_of(body),
        body,
        definitions,
        segments,
        flag_documents,
        segment_documents,
    )


M = TypeVar("M", Flag, Segment)


def _validated(
    documents: Any, model: type[M], known: Mapping[str, M], known_documents: Mapping[str, bytes]
) -> tuple[dict[str, M], dict[str, bytes]]:
    """Each document validated as `model`, keyed by its key, with its canonical bytes; one whose
    bytes equal those a known object was made from is that object."""
    objects: dict[str, M] = {}
    canonical: dict[str, bytes] = {}
    for doc in documents:
        raw = orjson.dumps(doc, option=orjson.OPT_SORT_KEYS)
        key = doc.get("key") if isinstance(doc, Mapping) else None
        reused = known.get(key) if isinstance(key, str) else None
        if reused is not None and known_documents.get(reused.key) == raw:
            obj = reused
        else:
            obj = model.model_validate(doc)
        objects[obj.key] = obj
        canonical[obj.key] = raw
    return objects, canonical
