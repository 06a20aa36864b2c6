"""The SDK's evaluator tables: for each flag of a configuration, its full evaluator and its
typed getter's, rebuilt when the configuration changes and swapped in whole.

A flag the change left alone keeps its evaluators; a typed getter's evaluator is compiled on
its first call.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from headway.flags.evaluate import Evaluation, Recorder, ValueEvaluator, compile_flag, compile_value
from headway.flags.model import Flag, Segment
from headway.flags.prerequisites import depends_on
from headway.flags.snapshot import Snapshot

__all__ = ["KINDS", "Entry", "compile_tables"]

KINDS = ("boolean", "string", "number", "json")
Evaluator = Callable[[Mapping[str, Any]], Evaluation]
# (evaluator, flag type) per flag; a tuple for the hot path. The evaluator counts exposures and
# remembers served variants itself (see `Recorder`).
Entry = tuple[Evaluator, str]
Typed = dict[str, dict[str, ValueEvaluator]]


def compile_tables(
    snapshot: Snapshot,
    old: Snapshot | None,
    table: dict[str, Entry],
    typed: Typed,
    recorder: Callable[[str, Flag], Recorder | None],
) -> tuple[dict[str, Entry], Typed]:
    """The evaluators of every flag of `snapshot`: its full one, and its typed getter's by
    type. `table` and `typed` are the tables of `old`, the configuration it replaces."""
    new_table: dict[str, Entry] = {}
    new_typed: Typed = {kind: {} for kind in KINDS}
    # A flag the change left alone keeps its evaluators (build_snapshot kept its object),
    # unless a segment changed: a flag's evaluator holds the segments it refers to.
    keep = old.definitions if old is not None and _same(old.segments, snapshot.segments) else {}
    for key, bad in snapshot.invalid.items():  # the caller's default, with reason ERROR
        new_table[key] = (bad.compiled().evaluate, bad.type)
    flags = snapshot.definitions
    for key, flag in flags.items():
        if keep.get(key) is flag and key in table and _same_prerequisites(flag, keep, snapshot):
            new_table[key] = table[key]
            value = typed[flag.type][key]
            if isinstance(value, _FirstUse):  # not compiled yet: compile into the new table
                value.table = new_typed[flag.type]
            new_typed[flag.type][key] = value
            continue
        recording = recorder(key, flag)
        compiled = compile_flag(flag, snapshot.environment, snapshot.segments, recording, flags)
        new_table[key] = (compiled.evaluate, compiled.type)
        values = new_typed[flag.type]
        values[key] = _FirstUse(values, key, flag, snapshot, recording)
    return new_table, new_typed


def _same(a: Mapping[str, Segment], b: Mapping[str, Segment]) -> bool:
    return a.keys() == b.keys() and all(a[k] is b[k] for k in a)


def _same_prerequisites(flag: Flag, old: Mapping[str, Flag], snapshot: Snapshot) -> bool:
    """Whether every flag `flag` depends on, directly or not, is the one it was: an evaluator
    holds those flags' evaluators."""
    seen: set[str] = set()
    todo = depends_on(flag, snapshot.environment)
    while todo:
        key = todo.pop()
        if key in seen:
            continue
        seen.add(key)
        now = snapshot.definitions.get(key)
        if now is not old.get(key):
            return False
        if now is not None:
            todo += depends_on(now, snapshot.environment)
    return True


class _FirstUse:
    """A typed getter's evaluator for one flag, compiled on its first call rather than with
    every configuration: a change then costs each SDK one compile per flag, not two, and flags
    an application never reads through a typed getter are never compiled for one. The first
    call puts the compiled evaluator in `table`, which a configuration that keeps the flag
    points at its own new table."""

    __slots__ = ("flag", "key", "recorder", "snapshot", "table")

    def __init__(
        self,
        table: dict[str, ValueEvaluator],
        key: str,
        flag: Flag,
        snapshot: Snapshot,
        recorder: Recorder | None,
    ) -> None:
        self.table, self.key, self.flag = table, key, flag
        self.snapshot, self.recorder = snapshot, recorder

    def __call__(self, context: Mapping[str, Any], default: Any) -> Any:
        snapshot = self.snapshot
        evaluator = compile_value(
            self.flag, snapshot.environment, snapshot.segments, self.recorder, snapshot.definitions
        )
        self.table[self.key] = evaluator  # later calls go straight to it
        return evaluator(context, default)
