"""Formatting for people (Rich tables) and for programs (JSON, CSV)."""

from __future__ import annotations

import csv
import io
import os
import sys
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

import orjson
from rich.console import Console
from rich.table import Table

from headway.metrics import bands

if TYPE_CHECKING:  # every command imports this module; the metrics engine loads when used
    from headway.metrics.dora import MetricSet

FORMATS = ("table", "json", "csv")
# Tables are wide; when output is piped, Rich would assume 80 columns and squeeze them.
console = Console(width=None if sys.stdout.isatty() else int(os.environ.get("COLUMNS", 140)))


def duration(seconds: float | None) -> str:
    if seconds is None:
        return "–"
    if seconds < 3600:
        return f"{seconds / 60:.0f} min"
    if seconds < 86400 * 2:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 86400:.1f} d"


def percent(rate: float | None) -> str:
    return "–" if rate is None else f"{rate * 100:.1f}%"


def emit_json(data: Any) -> None:
    sys.stdout.write(orjson.dumps(data, option=orjson.OPT_INDENT_2).decode() + "\n")


def emit_csv(rows: Iterable[dict[str, Any]], columns: Iterable[str] = ()) -> None:
    """`rows` as CSV with a header; with no rows, the header alone (from `columns`), so a
    script reading it sees the columns, not an empty file."""
    rows = list(rows)
    fieldnames = list(rows[0]) if rows else list(columns)
    if not fieldnames:
        return
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=fieldnames, lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow(
            {
                k: (orjson.dumps(v).decode() if isinstance(v, list | dict) else v)
                for k, v in row.items()
            }
        )
    sys.stdout.write(buffer.getvalue())


def flat(m: MetricSet) -> dict[str, Any]:
    """One CSV row per metric set: scope, period and every metric field, prefixed."""
    data = m.to_json()
    row: dict[str, Any] = {
        "definition": f"{m.definition.name}@{m.definition.version}",
        "scope_kind": m.scope.kind,
        "scope": m.scope.name or "organisation",
        "since": data["period"]["since"],
        "until": data["period"]["until"],
    }
    for metric in (
        "deployment_frequency",
        "change_lead_time",
        "change_fail_rate",
        "failed_deployment_recovery_time",
        "deployment_rework_rate",
    ):
        for key, value in data[metric].items():
            row[f"{metric}.{key}"] = value
    for key, value in (data.get("release_lead_time") or {}).items():
        if isinstance(value, dict):  # deploy_to_release, flattened one level further
            row.update({f"release_lead_time.{key}.{k}": v for k, v in value.items()})
        else:
            row[f"release_lead_time.{key}"] = value
    return row


def metric_table(m: MetricSet, title: str | None = None) -> Table:
    """The five metrics, grouped by DORA's factors (throughput, then instability), with the
    report whose levels they are given under."""
    df, lt, cfr = m.deployment_frequency, m.change_lead_time, m.change_fail_rate
    rec, rw = m.failed_deployment_recovery_time, m.deployment_rework_rate
    period = m.to_json()["period"]
    table = Table(
        title=title
        or f"{m.scope.describe()} · {period['since'][:10]} → {period['until'][:10]}"
        f" · definition {m.definition.label}",
        title_justify="left",
        caption=f"levels: {bands.SOURCES[m.year]} (docs/definitions.md)",
        caption_justify="left",
    )
    table.add_column("metric")
    table.add_column("value", justify="right")
    table.add_column("behind it")
    table.add_column(f"level ({m.year})")
    rows = {
        "deployment_frequency": (
            "deployment frequency",
            _value(df["per_week"], f"{_weekly(df)}/week"),
            f"{df['deployments']} deployments on {df['deploy_days']} of {df['days']:.0f} days",
            _level(df),
        ),
        "change_lead_time": (
            "change lead time",
            _value(lt["median_s"], duration(lt["median_s"])),
            lt["reason"]
            or f"median of {lt['changes']} changes; p75 {duration(lt['p75_s'])}, "
            f"p90 {duration(lt['p90_s'])}",
            _level(lt),
        ),
        "change_fail_rate": (
            "change fail rate",
            _value(cfr["rate"], percent(cfr["rate"])),
            f"{cfr['failed']} of {cfr['deployments']} deployments failed",
            _level(cfr),
        ),
        "failed_deployment_recovery_time": (
            "failed deployment recovery time",
            _value(rec["median_s"], duration(rec["median_s"])),
            rec["reason"]
            or f"median of {rec['recoveries']} recoveries; p90 {duration(rec['p90_s'])}"
            + (f"; {rec['unrecovered']} not yet recovered" if rec["unrecovered"] else ""),
            _level(rec),
        ),
        "deployment_rework_rate": (
            "deployment rework rate",
            _value(rw["rate"], percent(rw["rate"])),
            f"{rw['rework']} of {rw['deployments']} deployments were unplanned repairs",
            "–",
        ),
    }
    for factor, metrics in bands.FACTORS.items():
        table.add_section()  # a rule between the factors (none before the first row)
        table.add_row(f"[bold]{factor}[/bold]", "", "", "")
        for metric in metrics:
            table.add_row(*rows[metric])
    if m.release_lead_time is not None:
        table.add_section()
        table.add_row("[bold]beside them[/bold]", "", "", "")
        table.add_row(*release_row(m.release_lead_time))
    return table


def release_row(release: dict[str, Any]) -> tuple[str, str, str, str]:
    """Release lead time as a table row: no level, since DORA rates no such figure."""
    flagged = release["flagged"]
    after = release["deploy_to_release"]
    behind = release["reason"] or f"median of {release['changes']} changes reaching everyone"
    if flagged:
        behind += f"; {flagged} flagged, {release['unreleased']} not yet released"
    if after["changes"]:
        behind += f"; deploy → release median {duration(after['median_s'])}"
    return (
        "release lead time",
        _value(release["median_s"], duration(release["median_s"])),
        behind,
        "–",
    )


def profile_lines(profile: dict[str, Any]) -> list[str]:
    """The 2025 report's view of a metric set, in words: the two factors, then the profiles."""
    fast, shaky = profile["throughput"], profile["instability"]
    answers = "; ".join(
        f"{a['metric'].replace('_', ' ')}: {a['words']} ({a['answer']})" for a in fast["answers"]
    )
    speed = NO_DATA if fast["score"] is None else f"{fast['score']:.2f} of {fast['of']}"
    shake = NO_DATA if shaky["score"] is None else percent(shaky["score"])
    lines = [
        f"DORA 2025 view ({profile['source']}):",
        f"  throughput   {speed}{_on(fast['side'])}" + (f"  [{answers}]" if answers else ""),
        f"  instability  {shake}{_on(shaky['side'])}  [mean of change fail rate and rework rate]",
    ]
    fits = profile["consistent_with"]
    if fits:
        lines.append("  consistent with: " + ", ".join(p["name"] for p in fits))
        lines.append(
            f"  the report {'tells these apart by' if len(fits) > 1 else 'also weighs'} "
            + ", ".join(profile["unmeasured"])
            + ", which delivery records do not measure: ask the team"
        )
    else:
        lines.append(f"  no profile: {profile['reason'] or 'no profile has this signature'}")
    return lines


def _on(side: str | None) -> str:
    return f" ({side})" if side else ""


NO_DATA = "no data"
TOO_FEW = "too few to rate"


def _value(value: float | None, text: str) -> str:
    """A figure, or "no data" when no record stands behind it (never 0)."""
    return NO_DATA if value is None else text


def _weekly(frequency: dict[str, Any]) -> str:
    return f"{frequency['per_week'] or 0:.1f}"


def _level(figure: dict[str, Any]) -> str:
    """The level, "too few to rate" for a value with too few deployments behind it, or a dash."""
    if figure.get("level"):
        return str(figure["level"])
    return TOO_FEW if figure.get("level_reason") and figure.get("reason") is None else "–"


def summary_table(sets: list[MetricSet], title: str) -> Table:
    """One row per scope: the throughput figures, then the instability ones (DORA's factors)."""
    year = sets[0].year if sets else "2024"
    table = Table(
        title=title,
        title_justify="left",
        caption=f"levels: {bands.SOURCES[year]} (docs/definitions.md)",
        caption_justify="left",
    )
    table.add_column("scope")
    table.add_column("context")
    for factor, column in (
        ("throughput", "lead time"),
        ("throughput", "deploys/week"),
        ("throughput", "recovery"),
        ("instability", "change fail rate"),
        ("instability", "rework"),
    ):
        table.add_column(f"{factor}\n{column}", justify="right")
    profiled = year == "2025"  # the report's view in place of levels it does not publish
    if profiled:
        table.add_column("2025 view\nthroughput · instability", justify="right")
        table.add_column("2025 view\nconsistent with")
    for m in sets:
        df, lt, cfr = m.deployment_frequency, m.change_lead_time, m.change_fail_rate
        rec, rw = m.failed_deployment_recovery_time, m.deployment_rework_rate
        table.add_row(
            m.scope.name or "organisation",
            ", ".join(m.contexts),
            f"{_value(lt['median_s'], duration(lt['median_s']))} {_lvl(lt)}",
            f"{_value(df['per_week'], _weekly(df))} {_lvl(df)}",
            f"{_value(rec['median_s'], duration(rec['median_s']))} {_lvl(rec)}",
            f"{_value(cfr['rate'], percent(cfr['rate']))} {_lvl(cfr)}",
            _value(rw["rate"], percent(rw["rate"])),
            *(_profile_cells(m.to_json()["profile"]) if profiled else ()),
        )
    return table


def _profile_cells(profile: dict[str, Any]) -> tuple[str, str]:
    fast, shaky = profile["throughput"], profile["instability"]
    speed = NO_DATA if fast["score"] is None else f"{fast['score']:.2f}"
    shake = NO_DATA if shaky["score"] is None else percent(shaky["score"])
    fits = ", ".join(p["name"] for p in profile["consistent_with"]) or "–"
    return f"{speed} · {shake}", fits


def _lvl(figure: dict[str, Any]) -> str:
    """`(elite)`, `(too few to rate)` or nothing when there is no value to rate."""
    level = _level(figure)
    return "" if level == "–" else f"({level})"
