"""Where a problem with a posted form is shown: each issue the flag service (or the form
itself) reports by the path of a document field is put beside the form field of that name, or
the nearest place around it; what names no field is shown above the form."""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Final

from headway.flags.model import Issue

__all__ = ["Problems", "label", "place"]


@dataclass
class Problems:
    """What is wrong with a posted form, by the field (anchor) it is shown beside; what names
    no field of the form is `general`, shown above it."""

    fields: dict[str, list[str]] = field(default_factory=dict)
    general: list[str] = field(default_factory=list)

    def at(self, anchor: str) -> list[str]:
        return self.fields.get(anchor, [])

    def __bool__(self) -> bool:
        return bool(self.fields or self.general)

    def summary(self) -> list[tuple[str | None, str]]:
        return [(None, m) for m in self.general] + [
            (anchor, m) for anchor, messages in self.fields.items() for m in messages
        ]


def place(
    issues: Iterable[Issue],
    anchors: Collection[str],
    document: Mapping[str, Any],
    prefix: str = "",
) -> Problems:
    """Put each issue beside the field its path names, or the nearest place around it.

    `prefix` is where the form's document sits in the service's (`environments.production`);
    an issue outside it (another environment of the flag) is general, with its whole path."""
    problems = Problems()
    for issue in issues:
        path = re.sub(r"\[([0-9]+)\]", r".\1", issue.path)
        if prefix:
            if path != prefix and not path.startswith(f"{prefix}."):
                problems.general.append(str(issue))
                continue
            path = path[len(prefix) + 1 :]
        path = _weight_anchor(path, document)
        parts = path.split(".") if path else []
        while parts and ".".join(parts) not in anchors:
            parts.pop()
        if parts:
            problems.fields.setdefault(".".join(parts), []).append(issue.message)
        else:
            problems.general.append(f"{path}: {issue.message}" if path else issue.message)
    return problems


def _weight_anchor(path: str, document: Mapping[str, Any]) -> str:
    """A split's weight is shown beside its variant's field: `rules.0.serve.split.weights.1…`
    is at `rules.0.serve.weights.off` when the second weight posted is off's."""
    found = re.match(r"(.+?)\.split\.weights\.([0-9]+)(?:\.|$)", path)
    if found is None:
        return path
    node: Any = document
    for part in found.group(1).split("."):
        if isinstance(node, list) and part.isdigit() and int(part) < len(node):
            node = node[int(part)]
        elif isinstance(node, Mapping) and part in node:
            node = node[part]
        else:
            return path
    try:
        variant = node["split"]["weights"][int(found.group(2))]["variant"]
    except (KeyError, IndexError, TypeError):
        return path
    return f"{found.group(1)}.weights.{variant}"


_WORDS: Final = {
    "default": "default serve",
    "off_variant": "off variant",
    "bucket_by": "bucketed by",
    "included": "always in",
    "excluded": "never in",
}


def label(anchor: str) -> str:
    """A field's place in words, for the list of problems: `rules.0.conditions.1.value` is
    "Rule 1, condition 2, value"."""
    parts, words, k = anchor.split("."), [], 0
    while k < len(parts):
        part, following = parts[k], parts[k + 1] if k + 1 < len(parts) else ""
        if part in ("rules", "conditions") and following.isdigit():
            words.append(f"{part[:-1]} {int(following) + 1}")
            k += 2
            continue
        if part == "weights" and following:
            words.append(f"percent of {'.'.join(parts[k + 1 :])}")
            break
        words.append(_WORDS.get(part, part))
        k += 1
    text = ", ".join(words)
    return text[:1].upper() + text[1:]
