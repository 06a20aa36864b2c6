"""Flags that depend on other flags: a `flag_variant` condition holds when the flag it names
serves one of the listed variants to the same context, in the same environment.

Writes refuse an unknown flag or variant, a cycle and a chain deeper than `MAX_DEPTH`;
evaluators are built with the same limits, so a configuration that slipped past them (an old
bootstrap file) still evaluates: a condition it cannot resolve matches nobody.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import Any, Protocol, TypeVar

from headway.flags.targeting import PREREQUISITE_OPERATORS, Condition, EnvironmentConfig

__all__ = [
    "MAX_DEPTH",
    "Dependent",
    "chain_problem",
    "depends_on",
    "prerequisite_conditions",
    "prerequisite_evaluators",
]

MAX_DEPTH = 8  # flags in one chain of prerequisites below the flag evaluated


class Dependent(Protocol):
    @property
    def key(self) -> str: ...
    @property
    def environments(self) -> Mapping[str, EnvironmentConfig]: ...


E = TypeVar("E", bound=Dependent)


def prerequisite_conditions(env: EnvironmentConfig) -> Iterator[tuple[int, int, Condition]]:
    """(rule index, condition index, condition) of each `flag_variant` condition of `env`."""
    for r, rule in enumerate(env.rules):
        for c, cond in enumerate(rule.conditions):
            if cond.operator in PREREQUISITE_OPERATORS:
                yield r, c, cond


def depends_on(flag: Dependent, environment: str) -> list[str]:
    """The keys of the flags `flag` names in `flag_variant` conditions of `environment`."""
    env = flag.environments.get(environment)
    if env is None or not env.enabled:  # an off flag serves its off variant, reading nothing
        return []
    return list(dict.fromkeys(c.attribute for _, _, c in prerequisite_conditions(env)))


def chain_problem(
    flag: Dependent, environment: str, lookup: Callable[[str], Dependent | None]
) -> str | None:
    """Why `flag`'s prerequisites cannot be evaluated in `environment`: a cycle or a chain
    deeper than MAX_DEPTH, written as the chain of keys; None when they can."""

    def walk(node: Dependent, path: tuple[str, ...]) -> str | None:
        for key in depends_on(node, environment):
            if key in path:
                return f"flags would depend on each other: {' → '.join((*path, key))}"
            if len(path) > MAX_DEPTH:
                chain = " → ".join((*path, key))
                return f"a chain of prerequisites is at most {MAX_DEPTH} flags deep: {chain}"
            other = flag if key == flag.key else lookup(key)
            if other is not None and (problem := walk(other, (*path, key))) is not None:
                return problem
        return None

    return walk(flag, (flag.key,))


def prerequisite_evaluators(
    flag: Dependent,
    environment: str,
    flags: Mapping[str, E],
    chain: tuple[str, ...],
    compile_one: Callable[[E, tuple[str, ...]], Callable[..., Any]],
) -> dict[str, Callable[..., Any]]:
    """The evaluators of the flags `flag` depends on in `environment`, each compiled by
    `compile_one(flag, chain to it)`; one unknown, in a cycle or too deep is left out."""
    out = {}
    for key in depends_on(flag, environment):
        other = flags.get(key)
        if other is not None and key not in chain and len(chain) <= MAX_DEPTH:
            out[key] = compile_one(other, (*chain, key))
    return out
