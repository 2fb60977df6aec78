"""Benchmark results with their provenance, and ``edgesplit report``: every result on one page.

A bench script ends with :func:`write_result`: its Markdown (``<stem>.md``) and its figures as
JSON (``<stem>.json``), both stamped with :func:`provenance` (commit, date, command, machine).
:func:`build_report` then needs no re-run: it reads every ``*.json`` result of ``bench/out`` and
the eval's ``eval/report``, and writes one Markdown file and one HTML page (Markdown rendered
by ``markdown-it-py``, plots copied beside them), each result under its own heading with its
date, commit and machine. A result written before provenance stamps existed is listed as such.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import os
import platform
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = ["BenchResult", "build_report", "load_results", "provenance", "pyplot", "write_result"]

_REPO = Path(__file__).resolve().parents[3]


def provenance(command: list[str] | None = None) -> dict[str, Any]:
    """Where a result comes from: commit (and whether the tree had changes), date, command, machine."""
    return {
        "commit": _git("rev-parse", "--short=12", "HEAD"),
        "dirty": bool(_git("status", "--porcelain", "--untracked-files=no")),
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "command": " ".join(command if command is not None else [Path(sys.argv[0]).as_posix(), *sys.argv[1:]]),
        "machine": machine(),
    }


def machine() -> dict[str, Any]:
    """The CPU, core count, memory and Python of this machine."""
    cpu = platform.processor() or platform.machine()
    try:
        info = Path("/proc/cpuinfo").read_text()
        cpu = next((line.split(":", 1)[1].strip() for line in info.splitlines() if line.startswith("model name")), cpu)
    except OSError:
        pass
    memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") if hasattr(os, "sysconf") else 0
    return {
        "cpu": cpu, "cores": os.cpu_count(), "memory_gib": round(memory / 2**30, 1),
        "python": platform.python_version(), "system": platform.platform(terse=True),
    }  # fmt: skip


def _git(*args: str) -> str:
    try:
        done = subprocess.run(["git", *args], cwd=_REPO, capture_output=True, text=True, timeout=10, check=True)
    except (OSError, subprocess.SubprocessError):
        return ""
    return done.stdout.strip()


def write_result(out: Path, stem: str, markdown: str, data: Any) -> dict[str, Any]:
    """``<stem>.md`` and ``<stem>.json`` under ``out``, both stamped with this run's provenance."""
    stamp = provenance()
    out.mkdir(parents=True, exist_ok=True)
    footer = f"\n\n_{stamp['date']}, commit {stamp['commit']}{' (with changes)' if stamp['dirty'] else ''}: "
    footer += f"`{stamp['command']}` on {stamp['machine']['cpu']}, {stamp['machine']['cores']} cores._\n"
    (out / f"{stem}.md").write_text(markdown.rstrip("\n") + footer)
    (out / f"{stem}.json").write_text(json.dumps({"provenance": stamp, "results": data}, indent=1, default=_plain))
    return stamp


def pyplot() -> Any:
    """``matplotlib.pyplot`` on the file-only Agg backend (no display here), imported on first use."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _plain(value: Any) -> Any:
    """JSON for what ``json`` does not know: dataclasses as dicts, anything else as text."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return dataclasses.asdict(value)
    return str(value)


@dataclass(frozen=True)
class BenchResult:
    """One result file and what the report shows of it."""

    name: str
    source: Path
    markdown: str
    provenance: dict[str, Any] | None  # None: written before results carried a stamp
    plots: tuple[Path, ...]


def load_results(*dirs: Path) -> list[BenchResult]:
    """Every ``*.json`` result in ``dirs`` with its Markdown and plots (``<stem>*.png``), by name."""
    results = []
    for folder in dirs:
        for path in sorted(folder.glob("*.json")) if folder.is_dir() else []:
            try:
                payload = json.loads(path.read_text())
            except (OSError, ValueError):
                continue  # not a result (a half-written file is skipped, not fatal)
            stamp = payload.get("provenance") if isinstance(payload, dict) else None
            markdown_path = path.with_suffix(".md")
            markdown = markdown_path.read_text() if markdown_path.exists() else "_(no Markdown beside this result)_"
            plots = tuple(sorted(folder.glob(f"{path.stem}*.png")))
            results.append(BenchResult(f"{folder.as_posix()}/{path.stem}", path, markdown, stamp, plots))
    return results


def _heading(result: BenchResult) -> str:
    stamp = result.provenance
    if stamp is None:  # an unstamped file: the commit that last changed it, if git tracks it
        last = _git("log", "-1", "--format=%cI · commit `%h`", "--", str(result.source.resolve()))
        where = f"last committed {last}" if last else "not committed"
        return f"## {result.name}\n\n_No provenance stamp in the file; {where}._\n"
    m = stamp["machine"]
    dirty = " (with changes)" if stamp.get("dirty") else ""
    return (
        f"## {result.name}\n\n_{stamp['date']} · commit `{stamp['commit']}`{dirty} · `{stamp['command']}` · "
        f"{m['cpu']}, {m['cores']} cores, {m['memory_gib']} GiB, Python {m['python']}_\n"
    )


def _demote(markdown: str) -> str:
    """A result's own headings two levels down, under its report heading."""
    return "\n".join("##" + line if line.startswith("#") else line for line in markdown.splitlines())


def build_report(sources: list[Path], out: Path) -> tuple[Path, Path]:
    """``report.md`` and ``report.html`` under ``out`` from the results in ``sources``, plots copied."""
    from markdown_it import MarkdownIt

    results = load_results(*sources)
    out.mkdir(parents=True, exist_ok=True)
    here, built = machine(), dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    parts = [
        "# edgesplit: every benchmark and eval result\n",
        f"Built {built} at commit `{_git('rev-parse', '--short=12', 'HEAD')}` on {here['cpu']} "
        f"({here['cores']} cores, {here['memory_gib']} GiB) from {', '.join(f'`{s}`' for s in sources)}: "
        f"{len(results)} results.\n",
    ]
    for result in results:
        parts += [_heading(result), _demote(result.markdown)]
        for plot in result.plots:
            shutil.copyfile(plot, out / plot.name)
            parts.append(f"![{plot.stem}]({plot.name})\n")
    text = "\n".join(parts) + "\n"
    markdown_path, html_path = out / "report.md", out / "report.html"
    markdown_path.write_text(text)
    body = MarkdownIt("commonmark").enable("table").render(text)
    html_path.write_text(_HTML.format(body=body))
    return markdown_path, html_path


_HTML = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>edgesplit report</title>
<style>body{{font:15px system-ui,sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;color:#1d232b}}
table{{border-collapse:collapse;margin:.6em 0}}td,th{{border:1px solid #ccd;padding:3px 8px;text-align:left}}
img{{max-width:100%}}code{{background:#f2f3f5;padding:0 3px}}h2{{border-top:1px solid #ccd;padding-top:.8em}}</style>
</head><body>
{body}
</body></html>
"""
