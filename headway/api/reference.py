"""The JSON references in docs/, generated from the result models and the OpenAPI document.

`python -m headway.api.reference` rewrites docs/metrics-json.md (the metrics, records, flow,
signals, findings and review contracts) and docs/api.md (every route, who may call it and what
it answers); `tests/api/test_reference.py` fails when the committed files differ.
"""

from __future__ import annotations

import sys
import types
import typing
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Union

from pydantic import BaseModel

from headway.api.responses import Error
from headway.interpret.results import Findings, Note, NotedFlow, NotedSignals, Review
from headway.metrics.results import Change, Deployment, Incident, MetricSetResult

__all__ = ["api_reference", "metrics_reference", "write"]

DOCS = Path(__file__).resolve().parents[2] / "docs"

# Prose that a field table cannot say: how to read the numbers. Kept beside the generator so
# the whole file is rebuilt from one place.
_METRICS_NOTES = """\
- `scope.kind` is `service`, `team`, `context` or `organisation`; `scope.contexts` lists the
  operating contexts inside it. When there is more than one, `warnings` says so: the figure
  blends unlike services.
- `period.until` is exclusive. `--until 2026-10-10` (a date) means the end of that day.
  Without `--since/--until` the period is the 90 whole days up to the end of today (UTC;
  HEADWAY_NOW fixes "today" for tests and reproduced reports), whatever else the store
  holds. When the scope has no counted deployment in it, `warnings` starts with a sentence
  naming the scope's latest one and the `--since`/`--until` that show the 90 days up to it.
- Durations are seconds. `median_s` follows the definition's `summary.median`
  (`interpolated`, `lower` or `mean`); `p75_s` and `p90_s` are interpolated percentiles
  (lower percentiles under `lower`); `mean_s` is the arithmetic mean. A duration is `null`
  when nothing was measured.
- `rate` is a fraction (0.6 = 60%), `null` without deployments.
- Missing is never 0: a value with no records behind it (`per_week` without deployments, a
  lead time without shipped changes, a recovery time without recoveries) is `null`, and the
  metric's `reason` says why in words ("no failed deployment in the period, so nothing to
  recover from"); the table prints "no data" and the reason.
- `level` is `elite`, `high`, `medium`, `low` or `null` for the report year in
  `levels.year` (`--levels 2023|2024`; 2025 publishes no levels, and `levels.note` says so).
  A level is given only with at least 10 counted deployments in the scope and period; below
  that it is `null` and `level_reason` says "too few to rate: N counted deployments; a level
  needs at least 10" (the table prints "too few to rate"). Deployment rework rate has no
  published levels.
- `failed_deployment_recovery_time.unrecovered` counts failed deployments with no recovery
  evidence yet; they are not in the duration statistics.

`--each service|team|context` returns a JSON array of such objects. `--format csv` flattens
each object to one row (`change_fail_rate.rate`, …), one row per trend bucket after the
whole-period row.
"""

_FLOW_NOTES = """\
- `changes` counts the changes first shipped by a counted deployment that finished in the
  period; `end_to_end.n` and each stage's `n` count those measured.
- `negative` (in `end_to_end`, each stage and each trend stage) counts the changes left out
  because the span ran backwards (end before start). They are never clamped to zero; the
  sentence in `notes` says the same in words.
- `waiting` is the work not yet with users at `waiting.as_of`: the end of the period, or the
  current time when the period ends later (`as_of_rule` says which). `open` and `undeployed`
  are the two queues, aged since the request opened and since the merge; `waiting.stages`
  (all six, in order) holds the same changes by the stage they wait in, aged since that stage
  began. `oldest_change` is the id of the oldest one, `null` when the queue is empty.
  `--each` gives each object its own `waiting`; trend buckets have none.
- `--format csv` prints one row per stage with the shipped statistics and `waiting_as_of`,
  `waiting`, `waiting_oldest_s`, `waiting_median_s`.
"""

# (heading, what serves it, the model, notes)
_SECTIONS: list[tuple[str, str, type[BaseModel], str]] = [
    (
        "The metrics JSON contract",
        "`headway metrics --format json` and `GET /api/metrics` return the same object.",
        MetricSetResult,
        _METRICS_NOTES,
    ),
    (
        "Deployments",
        "`headway list deployments --format json` and `GET /api/deployments`: an array.",
        Deployment,
        "",
    ),
    (
        "Changes",
        "`headway list changes --format json` and `GET /api/changes`: an array.",
        Change,
        "",
    ),
    (
        "Incidents",
        "`headway list incidents --format json` and `GET /api/incidents`: an array.",
        Incident,
        "",
    ),
    (
        "The flow JSON contract",
        "`headway flow --format json` and `GET /api/flow` (which adds `notes`).",
        NotedFlow,
        _FLOW_NOTES,
    ),
    (
        "The signals JSON contract",
        "`headway signals --format json` and `GET /api/signals` (which adds `notes`).",
        NotedSignals,
        "",
    ),
    ("Findings", "`GET /api/findings?period=YYYY-MM`.", Findings, ""),
    ("The monthly review", "`GET /api/review?period=YYYY-MM`.", Review, ""),
    ("Notes", "`GET /api/notes` (an array) and `POST /api/notes`.", Note, ""),
]


def _type(annotation: Any) -> str:
    """A field's type in words, with models linked to their own table."""
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin is typing.Annotated:
        # `Number`: an int or a float, whichever the producer computed.
        return "number" if set(typing.get_args(args[0])) == {int, float} else _type(args[0])
    if origin in (Union, types.UnionType):
        present = [a for a in args if a is not type(None)]
        # `Number` once pydantic has taken its Annotated apart.
        parts = ["number"] if set(present) == {int, float} else [_type(a) for a in present]
        return " or ".join(parts) + (" or null" if type(None) in args else "")
    if origin is list:
        return f"array of {_type(args[0])}"
    if origin is dict:
        return f"object of {_type(args[1])}"
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return f"[{annotation.__name__}](#{annotation.__name__.lower()})"
    names = {str: "string", int: "integer", float: "number", bool: "boolean"}
    return names.get(annotation, "any")


def _nested(model: type[BaseModel]) -> Iterator[type[BaseModel]]:
    """The models a model's fields refer to, depth first, each once."""
    seen: set[type[BaseModel]] = set()

    def walk(annotation: Any) -> Iterator[type[BaseModel]]:
        model = isinstance(annotation, type) and issubclass(annotation, BaseModel)
        if model and annotation not in seen:
            seen.add(annotation)
            yield annotation
            for f in annotation.model_fields.values():
                yield from walk(f.annotation)
        for arg in typing.get_args(annotation):
            yield from walk(arg)

    yield from walk(model)


_METRICS_MODELS = {m.__name__ for _, _, top, _ in _SECTIONS for m in _nested(top)}


def _table(model: type[BaseModel]) -> list[str]:
    doc = " ".join((model.__doc__ or "").split())
    lines = [f"#### {model.__name__}", ""]
    if doc:
        lines += [doc, ""]
    lines += ["| field | type | meaning |", "|---|---|---|"]
    for name, f in model.model_fields.items():
        key = f.alias or name
        optional = "" if f.is_required() else " (only when present)"
        meaning = " ".join((f.description or "").split()).replace("|", "\\|")
        lines.append(f"| `{key}` | {_type(f.annotation)}{optional} | {meaning} |")
    return [*lines, ""]


def _tables(models: list[type[BaseModel]], done: set[type[BaseModel]]) -> list[str]:
    lines: list[str] = []
    for top in models:
        for model in _nested(top):
            if model not in done:
                done.add(model)
                lines += _table(model)
    return lines


def metrics_reference() -> str:
    lines = [
        "# JSON contracts of the metrics and their interpretation",
        "",
        "Generated from `headway/metrics/results/` and `headway/interpret/results.py` "
        "(`python -m headway.api.reference`). The CLI's `--format json` and the API return the "
        "same objects. Fields are only ever added, never renamed or removed; a consumer should "
        "ignore fields it does not know. Times are ISO 8601 in UTC with a `Z`; durations "
        "(`*_s`) are seconds; `number` is an integer or a decimal as computed.",
        "",
    ]
    done: set[type[BaseModel]] = set()
    for heading, served, model, notes in _SECTIONS:
        lines += [f"## {heading}", "", served, ""]
        if notes:
            lines += [notes.rstrip("\n"), ""]
        lines += _tables([model], done)
    return "\n".join(lines).rstrip("\n") + "\n"


def api_reference() -> str:
    from headway.api.app import create_app
    from headway.config import Settings

    doc = create_app(Settings(database=":memory:")).openapi()
    lines = [
        "# HTTP API reference",
        "",
        "Generated from the routes and their models (`python -m headway.api.reference`); "
        "`/openapi.json` and `/docs` on a running server say the same. Every route but "
        "`/healthz`, the webhooks and the SDK and OFREP routes takes a token "
        "(`Authorization: Bearer …`); docs/security.md says which role each needs. The "
        "objects of the metrics, flow, signals, findings and review are in "
        "[metrics-json.md](metrics-json.md).",
        "",
        "## Errors",
        "",
        "Every refusal, whatever its status, is one JSON object of one shape, "
        '[Error](#error): `{"error": "…"}`, a sentence saying what was wrong (naming the '
        "option, field or line) and what to do. A 422 adds `problems`, one `{field, problem}` "
        "per invalid field; a webhook refusal adds `delivery`, the delivery id it concerns. "
        "This holds for a missing or weak token (401, 403), a bad report option (400) or an "
        "unknown service, team, context or definition (404), a NUL character (400), a bad "
        "import line (400), a body or batch over its limit (413), a conflict (409), too many "
        "requests (429), an unknown path or method (404, 405) and a store that cannot answer "
        "(503, with `Retry-After`). The OFREP routes alone answer the shape the OFREP "
        "specification gives (`errorCode`, `errorDetails`), which OpenFeature providers read; "
        "the SDK stream ends with an `error` event whose data has the same `error` field.",
        "",
    ]
    schemas: set[str] = set()
    for path, operations in doc["paths"].items():
        for method, operation in operations.items():
            lines += [f"## `{method.upper()} {path}`", ""]
            if operation.get("summary"):
                lines += [operation["summary"], ""]
            for code, answer in sorted(operation["responses"].items()):
                lines.append(f"- {code}: {_answer(answer, schemas)}")
            lines.append("")
    models = [m for m in _api_models() if m.__name__ in schemas - _METRICS_MODELS]
    lines += ["## Objects", ""]
    lines += _tables(models, {m for _, _, top, _ in _SECTIONS for m in _nested(top)})
    return "\n".join(lines).rstrip("\n") + "\n"


def _answer(answer: dict[str, Any], schemas: set[str]) -> str:
    words = " ".join(answer.get("description", "").split())
    kinds = []
    for media, content in (answer.get("content") or {}).items():
        kinds.append(f"`{media}` {_schema(content.get('schema', {}), schemas)}")
    return f"{words}" + (f" ({'; '.join(kinds)})" if kinds else "")


def _schema(schema: dict[str, Any], schemas: set[str]) -> str:
    if "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[-1]
        schemas.add(name)
        page = "metrics-json.md" if name in _METRICS_MODELS else ""
        return f"[{name}]({page}#{name.lower()})"
    if schema.get("type") == "array":
        return f"array of {_schema(schema.get('items', {}), schemas)}"
    if "anyOf" in schema:
        return " or ".join(_schema(s, schemas) for s in schema["anyOf"])
    if schema.get("type") == "object" and "additionalProperties" in schema:
        return f"object of {_schema(schema['additionalProperties'], schemas)}"
    return str(schema.get("type", "any"))


def _api_models() -> list[type[BaseModel]]:
    """Every model the routes answer with, from the modules that declare them."""
    from headway.api import hooks, responses
    from headway.flags import model, results
    from headway.rollouts import results as rollouts

    found: list[type[BaseModel]] = [Error]
    for module in (responses, results, rollouts, model, hooks):
        for value in vars(module).values():
            if (
                isinstance(value, type)
                and issubclass(value, BaseModel)
                and value.__module__ == module.__name__
            ):
                found += [m for m in _nested(value) if m not in found]
    return sorted(found, key=lambda m: m.__name__)


def write() -> None:
    (DOCS / "metrics-json.md").write_text(metrics_reference())
    (DOCS / "api.md").write_text(api_reference())


if __name__ == "__main__":
    write()
    sys.stdout.write("wrote docs/metrics-json.md and docs/api.md\n")
