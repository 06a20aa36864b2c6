"""Comparing definitions: the same period recomputed under two sets of rules."""

from __future__ import annotations

from typing import Any

from headway.definitions import Definition, changed_fields
from headway.metrics.dora import compute
from headway.metrics.scope import Period, Scope

NUMBERS = [
    ("deployments", "deployment_frequency", "deployments"),
    ("deployments per week", "deployment_frequency", "per_week"),
    ("deploy days per week, median", "deployment_frequency", "deploy_days_per_week_median"),
    ("lead time median (s)", "change_lead_time", "median_s"),
    ("lead time p90 (s)", "change_lead_time", "p90_s"),
    ("changes measured", "change_lead_time", "changes"),
    ("failed deployments", "change_fail_rate", "failed"),
    ("change fail rate", "change_fail_rate", "rate"),
    ("recoveries", "failed_deployment_recovery_time", "recoveries"),
    ("recovery median (s)", "failed_deployment_recovery_time", "median_s"),
    ("rework rate", "deployment_rework_rate", "rate"),
]


def diff(
    store: Any, a: Definition, b: Definition, scope: Scope, period: Period, year: str = "2024"
) -> dict[str, Any]:
    """Both results, each number's move, and a warning when the change lowers failures."""
    ra, rb = (
        compute(store, a, scope, period, year=year),
        compute(store, b, scope, period, year=year),
    )
    ja, jb = ra.to_json(), rb.to_json()
    numbers = []
    for label, metric, key in NUMBERS:
        va, vb = ja[metric][key], jb[metric][key]
        delta = None if va is None or vb is None else round(vb - va, 6)
        numbers.append({"number": label, "a": va, "b": vb, "delta": delta})
    warnings = list(ra.warnings)
    rate_a, rate_b = ja["change_fail_rate"]["rate"], jb["change_fail_rate"]["rate"]
    if rate_a is not None and rate_b is not None and rate_b < rate_a:
        warnings.append(
            f"Under {b.label} the change fail rate is lower ({rate_a:.1%} → {rate_b:.1%}) with no "
            "change in what happened: failures may be defined away. Record why the definition "
            "changes before comparing trends across it."
        )
    return {
        "by_rule": by_rule(store, a, b, scope, period, ja, year),
        "a": {"name": a.name, "version": a.version},
        "b": {"name": b.name, "version": b.version},
        "scope": ja["scope"],
        "period": ja["period"],
        "rules": [{"rule": r, "a": x, "b": y} for r, x, y in changed_fields(a, b)],
        "numbers": numbers,
        "warnings": warnings,
        "results": {"a": ja, "b": jb},
    }


def by_rule(
    store: Any,
    a: Definition,
    b: Definition,
    scope: Scope,
    period: Period,
    ja: dict[str, Any],
    year: str = "2024",
) -> list[dict[str, Any]]:
    """For each rule where `b` differs from `a`: `a` with that one rule taken from `b`, and
    how far it moves each number from `a`'s. The moves need not add up to the whole
    difference (rules interact: a window edge matters only to the deployments counted), but
    each says how much of it that rule explains on its own."""
    out = []
    for rule, _, value in changed_fields(a, b):
        section, key = rule.split(".", 1)
        body = a.model_dump(mode="json")
        body[section][key] = value
        one = Definition.model_validate(body)
        j = compute(store, one, scope, period, year=year).to_json()
        moves = []
        for label, metric, number in NUMBERS:
            va, vb = ja[metric][number], j[metric][number]
            delta = None if va is None or vb is None else round(vb - va, 6)
            if va != vb:
                moves.append({"number": label, "a": va, "with_rule": vb, "delta": delta})
        out.append({"rule": rule, "value": value, "moves": moves})
    return out
