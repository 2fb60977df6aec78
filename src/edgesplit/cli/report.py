"""``edgesplit report``: every benchmark and eval result on one page (Markdown and HTML)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from edgesplit.cli.common import console

__all__ = ["report"]


def report(
    source: Annotated[
        list[Path] | None, typer.Option(help="folders of results (default: bench/results and eval/report)")
    ] = None,
    out: Annotated[Path, typer.Option(help="where report.md, report.html and the plots go")] = Path("bench/out/report"),
) -> None:
    """Collect the committed result of every bench script and of the eval into report.md and report.html."""
    from edgesplit.evaluation.bench_report import EVAL_REPORT, RESULTS, build_report, load_results

    sources = (
        source or [s for s in (RESULTS, EVAL_REPORT) if s.is_dir()] or [Path("bench/results"), Path("eval/report")]
    )
    missing = [s for s in sources if not s.is_dir()]
    if missing:
        console.print(f"[red]error:[/red] no such folder: {', '.join(map(str, missing))}")
        raise typer.Exit(2)
    markdown, html = build_report(sources, out)
    results = load_results(*sources)
    stamped = sum(r.provenance is not None for r in results)
    console.print(f"{len(results)} results ({stamped} with a provenance stamp) -> {markdown} and {html}")
