"""`headway rollout simulate`: how often the rollout judge would roll back a harmless change,
and how soon it would catch a harmful one, over simulated traffic."""

from __future__ import annotations

import json
import math
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from headway.cli.common import fail

console = Console()

GUARDRAIL_HELP = (
    "METRIC:KIND:DIRECTION:THRESHOLD:ACTION, e.g. errors:rate:increase:0%:rollback. KIND is rate "
    "(events per exposure) or mean; DIRECTION is the harmful one; THRESHOLD the tolerated "
    "relative worsening; ACTION warn, pause or rollback. Repeat for several."
)


def simulate_command(
    guardrail: Annotated[str, typer.Option("--guardrail", help=GUARDRAIL_HELP)],
    baseline_rate: Annotated[
        float, typer.Option("--baseline-rate", help="Control level: a rate, or a mean.")
    ] = 0.01,
    baseline_sd: Annotated[float, typer.Option("--baseline-sd", help="Spread of a mean.")] = 1.0,
    effect: Annotated[
        float, typer.Option("--effect", help="Harmful change as a multiplier: 1.5 = +50%.")
    ] = 1.5,
    traffic: Annotated[int, typer.Option("--traffic", help="Exposures between looks.")] = 2000,
    looks: Annotated[int, typer.Option("--looks", help="How many times the judge looks.")] = 30,
    stages: Annotated[
        str | None, typer.Option("--stages", help="Treatment share by stage (default 50/50).")
    ] = None,
    runs: Annotated[int, typer.Option("--runs", help="Simulated rollouts per scenario.")] = 2000,
    min_samples: Annotated[int, typer.Option("--min-samples")] = 500,
    alpha: Annotated[float, typer.Option("--alpha")] = 0.05,
    seed: Annotated[int, typer.Option("--seed")] = 0,
    compare: Annotated[
        bool, typer.Option("--compare", help="Also show a repeated z-test and an asymptotic CS.")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")] = False,
) -> None:
    """False-rollback rate on harmless changes and detection delay on harmful ones."""
    # here, not at the top: the statistics (NumPy, SciPy) load only when a simulation runs
    from headway.rollouts.guardrails import GuardrailError, MetricKind, parse_guardrail
    from headway.rollouts.simulate import METHODS, Traffic, simulate

    try:
        parsed = parse_guardrail(guardrail)
        shape = (
            Traffic.staged([float(p) for p in stages.split(",")], looks, traffic)
            if stages
            else Traffic(looks, traffic)
        )
        results = simulate(
            parsed,
            baseline=baseline_rate,
            baseline_sd=baseline_sd,
            effects=[1.0, effect],
            traffic=shape,
            runs=runs,
            seed=seed,
            alpha=alpha,
            min_samples=min_samples,
            methods=list(METHODS) if compare else ["headway (mSPRT)"],
        )
    except (GuardrailError, ValueError) as error:
        fail(str(error))
    if as_json:
        console.print_json(json.dumps([r.as_dict() for r in results]))
        return
    level = f"{baseline_rate:.2%}" if parsed.kind is MetricKind.RATE else f"{baseline_rate:g}"
    table = Table(
        title=f"{parsed.spec}: baseline {level}, {looks} looks x {traffic:,} exposures, "
        f"{runs:,} runs"
    )
    for column in (
        "judge",
        "false rollbacks",
        f"caught x{effect:g}",
        "median looks",
        "median exposures",
    ):
        table.add_column(column, justify="right")
    by_key = {(r.method, r.effect): r for r in results}
    for method in dict.fromkeys(r.method for r in results):
        harmless, harmful = by_key[(method, 1.0)], by_key[(method, effect)]
        table.add_row(
            method,
            f"{harmless.alarm_rate:.2%}",
            f"{harmful.alarm_rate:.1%}",
            "-" if math.isnan(harmful.median_looks) else f"{harmful.median_looks:g}",
            "-" if math.isnan(harmful.median_exposures) else f"{harmful.median_exposures:,.0f}",
        )
    console.print(table)
