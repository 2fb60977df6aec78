"""``edgesplit calibrate-cascade``: fit and calibrate the answer check of each hop, report, package."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from edgesplit.cli.common import console

__all__ = ["calibrate_cascade"]


def calibrate_cascade(
    min_quality: Annotated[
        float, typer.Option(min=0.0, max=1.0, help="end-to-end quality floor, as a fraction of cloud-only")
    ] = 0.98,
    budget: Annotated[
        float, typer.Option(min=0.0, help="most check time per kept answer, as a fraction of its generation time")
    ] = 0.10,
    confidence: Annotated[
        float, typer.Option(min=0.0, max=0.99, help="share of bootstrap resamples the target must hold in (0: none)")
    ] = 0.9,
    db: Annotated[Path, typer.Option(help="results store written by `edgesplit eval`")] = Path("eval/results.db"),
    out_dir: Annotated[Path, typer.Option(help="where the checks go, as <model>.json")] = Path("eval/checks"),
    report: Annotated[Path, typer.Option(help="report directory")] = Path("eval/report"),
) -> None:
    """Fit an answer check per hop on the edge-workload set, calibrate both for one end-to-end quality."""
    from dataclasses import replace

    from edgesplit.evaluation.cascade_data import cascade_items
    from edgesplit.evaluation.cascade_report import run_cascade, write_cascade_report
    from edgesplit.evaluation.results import EvalResults
    from edgesplit.routing.answer_check import save_check

    results = EvalResults(db)
    try:
        items = cascade_items(results)
        models = {tier: results.answer(items[0].key, tier).model for tier in ("edge", "local")} if items else {}  # type: ignore[union-attr]
    finally:
        results.close()
    try:
        runs = run_cascade(items, models, min_quality, confidence)
    except ValueError as exc:
        console.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(2) from None
    pick = write_cascade_report(items, runs, min_quality, confidence, budget, report)
    assert pick.hops is not None
    for position, (tier, check) in enumerate(pick.hops.checks.items()):
        heldout = {k: pick.heldout[k] for k in ("below_cloud", "of_oracle", "quality_ratio")}
        calibration = {"target": min_quality, "confidence": confidence, "signals": pick.name, "heldout": heldout,
                       "auroc": pick.heldout["auroc"][tier]}  # fmt: skip
        save_check(replace(check, threshold=pick.thresholds[position], calibration=calibration),
                   out_dir / f"{check.tier_model}.json")  # fmt: skip
    table = Table(title=f"held-out answer checks at >={min_quality:.0%} of cloud-only -> {report / 'cascade.md'}")
    for column in ("signals", "AUROC device/local", "below cloud", "of oracle", "quality", "check time"):
        table.add_column(column, justify="left" if column == "signals" else "right")
    for r in runs:
        h = r.heldout
        table.add_row(("* " if r is pick else "") + r.name, f"{h['auroc']['edge']:.2f} / {h['auroc']['local']:.2f}",
                      f"{h['below_cloud']:.1%}", f"{h['of_oracle']:.2f}x", f"{h['quality_ratio']:.1%}",
                      f"{max(r.overhead.values()):.0%}")  # fmt: skip
    console.print(table)
    console.print(f"checks: {', '.join(str(out_dir / (m + '.json')) for m in models.values())}")
