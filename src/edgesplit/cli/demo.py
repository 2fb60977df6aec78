"""``edgesplit demo``: all tiers on loopback, real models, demo traffic, and a summary."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from edgesplit.config import load_settings
from edgesplit.demo import TIERS, DemoResult, SpeculativeCheck, percentile, run_demo, workload_sample
from edgesplit.errors import EdgesplitError

if TYPE_CHECKING:
    pass

from edgesplit.cli.common import ConfigOpt, console, offline

__all__ = ["demo"]


def demo(
    max_tokens: Annotated[int, typer.Option(help="max tokens per answer")] = 96,
    config: ConfigOpt = None,
) -> None:
    """Start the ladder on loopback (device, local, cloud), send mixed traffic, print a summary per tier."""
    offline()
    try:
        device = load_settings(config, role="edge", port=0)
    except EdgesplitError as exc:
        console.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(2) from None
    _print_llama_runtime()
    columns = (SpinnerColumn(), TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn())
    with Progress(*columns, TimeElapsedColumn(), console=console) as bar:
        prompts = workload_sample()
        task = bar.add_task("starting", total=len(prompts))

        def stage(text: str) -> None:
            console.print(f"demo: {text}")  # a line per stage, so a crash shows where it happened
            bar.update(task, description=text)

        def result(r: DemoResult) -> None:
            bar.update(task, advance=1, description=f"answered at the {r.tier}: {r.prompt[:40]}")

        checks: list[SpeculativeCheck] = []
        results = run_demo(
            device, prompts=prompts, max_tokens=max_tokens, on_stage=stage, on_result=result, on_check=checks.append
        )
    console.print(_results_table(results))
    console.print(_answers_table(results))
    console.print(_summary_table(results))
    console.print(_family_table(results))
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
    table = Table(title="Demo requests (edgesplit/auto at the device)")
    for col in ("family", "prompt", "served at", "path", "right", "device's reason", "latency s", "tok/s"):
        table.add_column(col, overflow="fold")
    for r in results:
        path = " → ".join(hop["tier"] for hop in r.hops)
        right = "-" if r.right is None else ("yes" if r.right else "no")
        family = f"{r.family or r.kind}" + (" (hard)" if r.kind == "hard" and r.family else "")
        row = (family, r.prompt[:60], r.tier, path, right, r.reason, f"{r.latency_s:.2f}", f"{r.tokens_per_s:.1f}")
        table.add_row(*row)
    return table


def _answers_table(results: list[DemoResult], per_tier: int = 2, width: int = 90) -> Table:
    """A few answers from each tier, truncated, so a person sees what each tier said."""
    table = Table(title="What each tier said (first answers, truncated)")
    for col in ("tier", "prompt", "answer"):
        table.add_column(col, overflow="fold")
    for tier in TIERS:
        for r in [r for r in results if r.tier == tier][:per_tier]:
            answer = " ".join(r.answer.split())
            table.add_row(tier, r.prompt[:40], answer[:width] + ("…" if len(answer) > width else ""))
    return table


def _summary_table(results: list[DemoResult]) -> Table:
    table = Table(title="Summary: where answers were written")
    for col in ("tier", "requests", "share", "p50 latency s", "p95 latency s"):
        table.add_column(col)
    for tier in TIERS:
        lat = sorted(r.latency_s for r in results if r.tier == tier)
        share = len(lat) / len(results) if results else 0.0
        table.add_row(tier, str(len(lat)), f"{share:.0%}", f"{percentile(lat, 50):.2f}", f"{percentile(lat, 95):.2f}")
    return table


def _family_table(results: list[DemoResult]) -> Table:
    """Per edge-workload family in the sample: where it was served and whether the rule passed."""
    table = Table(title="Per family (one held-out item each; right = the item's rule on the answer)")
    for col in ("family", "hard", "device", "local", "cloud", "right"):
        table.add_column(col)
    for family in dict.fromkeys(r.family for r in results if r.family):
        mine = [r for r in results if r.family == family]
        right = [r.right for r in mine if r.right is not None]
        served = [str(sum(r.tier == t for r in mine)) for t in TIERS]
        table.add_row(family, "yes" if mine[0].kind == "hard" else "", *served, f"{sum(right)}/{len(right)}")
    return table


def _summary_line(results: list[DemoResult]) -> str:
    """How much never reached the cloud, fallbacks, how routine and hard prompts went, how many were right."""
    n = max(1, len(results))
    below_cloud = sum(r.tier != "cloud" for r in results) / n
    routine = [r for r in results if r.kind != "hard"]
    hard = [r for r in results if r.kind == "hard"]
    fallbacks = sum(any(hop.get("fallback") for hop in r.hops) for r in results)
    if any(r.reason.startswith("answer check") for r in results):
        router = "answer check"
    else:
        router = "learned router" if any(r.rule.startswith("learned") for r in results) else "confidence cascade"
    checked = [r.right for r in results if r.right is not None]
    right = f"; right by rule {sum(checked)}/{len(checked)}" if checked else ""
    return (
        f"device {router}: {below_cloud:.0%} never reached the cloud; fallbacks {fallbacks}; "
        f"routine kept below the cloud {sum(r.tier != 'cloud' for r in routine)}/{len(routine)}; "
        f"hard answered above the device {sum(r.tier != 'device' for r in hard)}/{len(hard)}{right}"
    )


def _speculative_line(checks: list[SpeculativeCheck]) -> str:
    same = sum(c.identical for c in checks)
    cloud_s = sum(c.cloud_s for c in checks)
    speculative_s = sum(c.speculative_s for c in checks)
    return (
        f"speculative decoding (local drafts token ids, cloud verifies in blocks): {same}/{len(checks)} answers "
        f"identical to the cloud's own (a difference may only start at a near-tie of the cloud's top two tokens); "
        f"{speculative_s:.1f} s vs {cloud_s:.1f} s cloud-only on loopback (no link delay, where drafting "
        "cannot pay; see bench/speculative.py)"
    )
