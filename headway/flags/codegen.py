"""Generated Python for flag evaluation, with the configuration kept out of the source text.

A `Source` collects the lines of one function and the constants they name. Every value taken
from a configuration (attribute names, operands, results, seeds) is bound to a generated name
(`c0`, `c1`, ...) in the function's namespace, never written into its text, so no configuration
can change the code. The text then depends only on the configuration's shape, and functions of
one shape share one compiled code object.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from functools import lru_cache
from types import CodeType
from typing import Any

__all__ = ["Source"]


class Source:
    """The lines of one generated function and the constants they name."""

    def __init__(self, prelude: Mapping[str, Any]) -> None:
        self.lines: list[str] = []
        self.namespace: dict[str, Any] = dict(prelude)
        self._constants = 0

    def const(self, value: Any) -> str:
        """A fresh name bound to `value`, for the source to use in its place."""
        name = f"c{self._constants}"
        self._constants += 1
        self.namespace[name] = value
        return name

    def line(self, depth: int, text: str) -> None:
        self.lines.append("    " * depth + text)

    def function(self, name: str) -> Callable[..., Any]:
        """Run the source in its namespace and return the function it defines as `name`."""
        exec(_code("\n".join(self.lines)), self.namespace)
        return self.namespace[name]  # type: ignore[no-any-return]


@lru_cache(maxsize=1024)
def _code(source: str) -> CodeType:
    return compile(source, "<headway flag evaluator>", "exec")
