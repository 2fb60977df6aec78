"""``edgesplit eval`` and ``edgesplit calibrate``: label answers on eval sets, fit the learned router."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Optional

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from edgesplit.errors import EdgesplitError

if TYPE_CHECKING:
    pass

from edgesplit.cli.common import console, offline

__all__ = ["calibrate", "calibrate_ladder", "eval_"]


def eval_(
    sets: Annotated[
        Optional[list[str]],  # noqa: UP045
        typer.Option("--set", help="humaneval, mtbench, sharegpt or a .jsonl file; repeatable (default: all three)"),
    ] = None,
    limit: Annotated[Optional[int], typer.Option(help="only the first N items of each set (a quick run)")] = None,  # noqa: UP045
    db: Annotated[Path, typer.Option(help="results store (SQLite); a rerun resumes")] = Path("eval/results.db"),
    out: Annotated[Path, typer.Option(help="report directory (markdown + PNG)")] = Path("eval/report"),
    generate: Annotated[bool, typer.Option(help="run the models; --no-generate only reports")] = True,
) -> None:
    """Run eval sets through the edge and cloud models, label the answers, report the routers."""
    import asyncio

    from edgesplit.evaluation.datasets import BUILTIN_SETS, set_name
    from edgesplit.evaluation.harness import EvalConfig
    from edgesplit.evaluation.runner import EvalModels, load_items, run_sets

    offline()
    try:
        chosen = sets or list(BUILTIN_SETS)
        if generate:
            items = load_items(chosen, limit)
            columns = (SpinnerColumn(), TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn())
            with Progress(*columns, TimeElapsedColumn(), console=console) as bar:
                task = bar.add_task("loading models", total=len(items))
                asyncio.run(
                    run_sets(
                        items, db, EvalModels(), EvalConfig(),
                        lambda item: bar.update(task, advance=1, description=item.key),
                    )
                )  # fmt: skip
        _report(db, out, [set_name(name) for name in chosen])
    except EdgesplitError as exc:
        console.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(2) from None


def _report(db: Path, out: Path, sets: list[str]) -> None:
    from edgesplit.evaluation.ladder import ladder_items
    from edgesplit.evaluation.report import write_report
    from edgesplit.evaluation.results import EvalResults

    results = EvalResults(db)
    try:
        records, timings, ladder = results.records(sets), results.timings(), ladder_items(results, sets)
    finally:
        results.close()
    if not records:
        raise EdgesplitError(f"no labelled items of {', '.join(sets)} in {db}: run without --no-generate")
    reports = write_report(records, out, timings, _embedder(records[0].edge.model))
    table = Table(title=f"held-out items: edge share at >=98% of cloud-only quality (AUROC) -> {out / 'report.md'}")
    names = [p.name for p in reports[-1].policies if p.name != "random"]
    table.add_column("set")
    table.add_column("n", justify="right")
    for name in names:
        table.add_column(name, justify="right")
    for r in reports:
        cells = [f"{p.share_at_target:.0%}" + (f" ({p.auroc:.2f})" if p.auroc == p.auroc else "") for p in r.policies]
        table.add_row(r.name, str(r.n_heldout), *[c for p, c in zip(r.policies, cells, strict=True) if p.name in names])
    console.print(table)
    console.print(f"plot: {out / 'router.png'}")
    if ladder:
        _print_ladder(ladder, out)


def _print_ladder(items: list[Any], out: Path) -> None:
    from edgesplit.evaluation.ladder import write_ladder

    summary = write_ladder(items, out)
    table = Table(title=f"the ladder (items labelled at all three tiers) -> {out / 'ladder.md'}")
    for column in ("split/set", "n", "device alone", "local alone", "oracle: device / local / cloud"):
        table.add_column(column, justify="left" if column == "split/set" else "right")
    for group, s in summary.items():
        share = s["oracle_share"]
        shares = f"{share['device']:.0%} / {share['local']:.0%} / {share['cloud']:.0%}"
        table.add_row(group, str(s["n"]), f"{s['alone']['device']:.2f}", f"{s['alone']['local']:.2f}", shares)
    console.print(table)


def _embedder(edge_model: str) -> Callable[[str], Any] | None:
    """Token-embedding features of eval prompts, when the edge model the eval ran is installed here
    (memoised per prompt: fitting and cross-validation embed each prompt several times)."""
    import functools

    from edgesplit.models import locate_model
    from edgesplit.routing.embedding import prompt_embedder

    try:
        return functools.lru_cache(maxsize=4096)(prompt_embedder(locate_model(edge_model)))
    except EdgesplitError as exc:
        console.print(f"[yellow]no token-embedding scorer:[/yellow] {exc}")
        return None


def calibrate(
    target_edge_share: Annotated[
        Optional[float],  # noqa: UP045
        typer.Option(min=0.0, max=1.0, help="keep this share of requests on the edge"),
    ] = None,
    min_quality: Annotated[
        Optional[float],  # noqa: UP045
        typer.Option(min=0.0, max=1.0, help="most edge share with at least this fraction of cloud-only quality"),
    ] = None,
    db: Annotated[Path, typer.Option(help="results store written by `edgesplit eval`")] = Path("eval/results.db"),
    out: Annotated[Path, typer.Option(help="router artifact to write")] = Path("eval/router.json"),
    features: Annotated[str, typer.Option(help="hidden+cues, embed+cues or cues")] = "hidden+cues",
    edge_model: Annotated[str, typer.Option(help="the edge model the eval ran")] = "smollm2-135m-instruct",
    max_edge_prompt_tokens: Annotated[
        Optional[int],  # noqa: UP045
        typer.Option(help="rule: longer prompts go to the cloud"),
    ] = None,
    folds: Annotated[int, typer.Option(min=0, help="cross-validation folds for the threshold (<2: none)")] = 5,
) -> None:
    """Fit the learned router on the calibration split, pick its threshold, write the artifact."""
    from edgesplit.evaluation.calibrate import calibrate as run_calibration
    from edgesplit.evaluation.results import EvalResults
    from edgesplit.routing.artifact import save_artifact
    from edgesplit.routing.scorer import FEATURE_KINDS

    if features not in FEATURE_KINDS:
        raise typer.BadParameter(f"must be one of {', '.join(FEATURE_KINDS)}", param_hint="--features")
    try:
        results = EvalResults(db)
        try:
            records = results.records()
        finally:
            results.close()
        kind = next(k for k in FEATURE_KINDS if k == features)
        embed = _embedder(edge_model) if kind == "embed+cues" else None
        done = run_calibration(
            records, edge_model, kind, target_edge_share, min_quality, max_edge_prompt_tokens, embed, folds
        )
    except EdgesplitError as exc:
        console.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(2) from None
    save_artifact(done.artifact, out)
    table = Table(title=f"router {done.artifact.version}, threshold {done.artifact.threshold:.4f} -> {out}")
    for column in ("split", "items", "edge share", "quality vs cloud-only", "oracle share at that quality"):
        table.add_column(column, justify="left" if column == "split" else "right")
    for name, o in (("calibration", done.calib), ("held-out", done.heldout)):
        table.add_row(name, str(o.items), f"{o.edge_share:.1%}", f"{o.quality:.1%}", f"{o.oracle_share_at_quality:.1%}")
    console.print(table)
    console.print(f"serve with it: EDGESPLIT_ROUTER_ARTIFACT={out} edgesplit serve --role edge ...")


def calibrate_ladder(
    min_quality: Annotated[
        float, typer.Option(min=0.0, max=1.0, help="end-to-end quality floor, as a fraction of cloud-only")
    ] = 0.98,
    db: Annotated[Path, typer.Option(help="results store written by `edgesplit eval`")] = Path("eval/results.db"),
    out_dir: Annotated[Path, typer.Option(help="where the artifacts go, as <model>.json")] = Path("eval/routers"),
    report: Annotated[Path, typer.Option(help="report directory")] = Path("eval/report"),
    features: Annotated[str, typer.Option(help="hidden+cues, embed+cues or cues")] = "embed+cues",
    folds: Annotated[int, typer.Option(min=0, help="cross-validation folds for the thresholds (<2: none)")] = 5,
    local_features: Annotated[
        Optional[str],  # noqa: UP045
        typer.Option(help="the local hop's features, when not --features"),
    ] = None,
    compare: Annotated[
        Optional[Path],  # noqa: UP045
        typer.Option(
            help="a directory of <model>.json routers (src/edgesplit/data/routers) to replay on the held-out items"
        ),
    ] = None,
) -> None:
    """Fit a router per hop (device vs cloud, local vs cloud), calibrate both for one end-to-end quality."""
    from edgesplit.evaluation.hops import calibrate_ladder as run_ladder
    from edgesplit.evaluation.hops import replay_ladder
    from edgesplit.evaluation.hops_report import write_ladder_report
    from edgesplit.evaluation.results import EvalResults
    from edgesplit.routing.artifact import load_artifact, save_artifact
    from edgesplit.routing.scorer import FEATURE_KINDS

    for name, value in (("--features", features), ("--local-features", local_features or features)):
        if value not in FEATURE_KINDS:
            raise typer.BadParameter(f"must be one of {', '.join(FEATURE_KINDS)}", param_hint=name)
    kind = next(k for k in FEATURE_KINDS if k == features)
    local_kind = next(k for k in FEATURE_KINDS if k == (local_features or features))
    try:
        results = EvalResults(db)
        try:
            hops = {tier: results.records(tier=tier) for tier in ("edge", "local")}
        finally:
            results.close()
        if not hops["local"]:
            raise EdgesplitError(f"no item in {db} is labelled at the local tier: run `edgesplit eval` first")
        models = {tier: records[0].edge.model for tier, records in hops.items()}
        kinds = {"edge": kind, "local": local_kind}
        embeds = {tier: _embedder(model) if kinds[tier] == "embed+cues" else None for tier, model in models.items()}
        ladder = run_ladder(hops, models, embeds, min_quality, kind, folds, local_kind)
        rows = [ladder.calib, ladder.heldout]
        if compare is not None:
            old = {tier: load_artifact(compare / f"{model}.json") for tier, model in models.items()}
            old_embeds = {t: _embedder(m) if old[t].features == "embed+cues" else None for t, m in models.items()}
            rows.append(replace(replay_ladder(hops, old, old_embeds), split=f"heldout ({compare.name})"))
    except EdgesplitError as exc:
        console.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(2) from None
    for hop in ladder.hops:
        save_artifact(hop.artifact, out_dir / f"{hop.artifact.edge_model}.json")
    write_ladder_report(ladder, hops, report)
    table = Table(title=f"the ladder at >={min_quality:.0%} end to end -> {report / 'ladder_router.md'}")
    for column in ("split", "items", "device", "local", "cloud", "quality", "oracle below cloud", "cloud tokens"):
        table.add_column(column, justify="left" if column == "split" else "right")
    for o in rows:
        shares = [f"{o.shares[t]:.1%}" for t in ("device", "local", "cloud")]
        table.add_row(
            o.split, str(o.items), *shares, f"{o.quality:.1%}", f"{o.oracle_below_cloud:.1%}",
            f"{o.cloud_tokens_ratio:.2f}x",
        )  # fmt: skip
    console.print(table)
    console.print(f"artifacts: {', '.join(str(out_dir / f'{h.artifact.edge_model}.json') for h in ladder.hops)}")
