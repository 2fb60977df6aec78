"""``edgesplit demo``: all tiers on loopback, real models, demo traffic, and a summary."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from edgesplit.config import load_settings
from edgesplit.demo import DEMO_PROMPTS, DemoResult, SpeculativeCheck, percentile, run_demo
from edgesplit.errors import EdgesplitError

if TYPE_CHECKING:
    pass

from edgesplit.cli.common import ConfigOpt, console, offline

__all__ = ["demo"]


def demo(
    max_tokens: Annotated[int, typer.Option(help="max tokens per answer")] = 96,
    config: ConfigOpt = None,
) -> None:
    """Start a cloud and an edge node on loopback, send mixed traffic, print a routing summary."""
    offline()
    try:
        edge_settings = load_settings(config, role="edge", port=0)
    except EdgesplitError as exc:
        console.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(2) from None
    _print_llama_runtime()
    columns = (SpinnerColumn(), TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn())
    with Progress(*columns, TimeElapsedColumn(), console=console) as bar:
        task = bar.add_task("starting", total=len(DEMO_PROMPTS))

        def stage(text: str) -> None:
            console.print(f"demo: {text}")  # a line per stage, so a crash shows where it happened
            bar.update(task, description=text)

        def result(r: DemoResult) -> None:
            bar.update(task, advance=1, description=f"answered on the {r.route}: {r.prompt[:40]}")

        checks: list[SpeculativeCheck] = []
        results = run_demo(
            edge_settings, max_tokens=max_tokens, on_stage=stage, on_result=result, on_check=checks.append
        )
    console.print(_results_table(results))
    console.print(_summary_table(results))
    console.print(_summary_line(results))
    if checks:
        console.print(_speculative_line(checks))


def _print_llama_runtime() -> None:
    from edgesplit.llama.runtime import ensure_llama

    try:
        runtime = ensure_llama()
    except EdgesplitError as exc:
        console.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(2) from None
    build = "runtime CPU dispatch" if runtime.dispatch else "[yellow]one CPU backend, not edgesplit's build[/yellow]"
    console.print(f"demo: llama.cpp from {runtime.lib_dir} ({build}), CPU backend {runtime.cpu_library}")


def _results_table(results: list[DemoResult]) -> Table:
    table = Table(title="Demo requests (edgesplit/auto)")
    for col in ("kind", "prompt", "route", "reason", "latency s", "tok/s"):
        table.add_column(col, overflow="fold")
    for r in results:
        table.add_row(r.kind, r.prompt[:60], r.route, r.reason, f"{r.latency_s:.2f}", f"{r.tokens_per_s:.1f}")
    return table


def _summary_table(results: list[DemoResult]) -> Table:
    table = Table(title="Summary")
    for col in ("route", "requests", "share", "p50 latency s", "p95 latency s"):
        table.add_column(col)
    for route in ("edge", "cloud"):
        lat = sorted(r.latency_s for r in results if r.route == route)
        share = len(lat) / len(results) if results else 0.0
        table.add_row(route, str(len(lat)), f"{share:.0%}", f"{percentile(lat, 50):.2f}", f"{percentile(lat, 95):.2f}")
    return table


def _summary_line(results: list[DemoResult]) -> str:
    """Edge share, fallbacks, and how the router treated the easy and the hard prompts."""
    edge_share = sum(r.route == "edge" for r in results) / max(1, len(results))
    easy = [r for r in results if r.kind == "easy"]
    hard = [r for r in results if r.kind == "hard"]
    router = "learned router" if any(r.rule.startswith("learned") for r in results) else "confidence cascade"
    return (
        f"{router}: edge share {edge_share:.0%}; fallbacks {sum(r.rule == 'fallback' for r in results)}; "
        f"easy kept on the edge {sum(r.route == 'edge' for r in easy)}/{len(easy)}; "
        f"hard sent to the cloud {sum(r.route == 'cloud' for r in hard)}/{len(hard)}"
    )


def _speculative_line(checks: list[SpeculativeCheck]) -> str:
    same = sum(c.identical for c in checks)
    cloud_s = sum(c.cloud_s for c in checks)
    speculative_s = sum(c.speculative_s for c in checks)
    return (
        f"speculative decoding (edge drafts, cloud verifies): {same}/{len(checks)} answers identical to the "
        f"cloud's own; {speculative_s:.1f} s vs {cloud_s:.1f} s cloud-only on loopback (no link delay, where "
        "drafting cannot pay; see bench/speculative.py)"
    )
