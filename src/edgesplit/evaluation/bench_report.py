"""Benchmark results with their provenance, and ``edgesplit report``: every result on one page.

A bench script ends with :func:`write_result`: its Markdown (``<stem>.md``) and its figures as
JSON (``<stem>.json``), both stamped with :func:`provenance` (commit, date, command, machine),
in the committed folder ``bench/results`` (:data:`RESULTS`); the eval writes ``eval/report`` the
same way. The JSON names the plots the run wrote. :func:`build_report` needs no re-run: it reads
every result and writes one Markdown file and one HTML page (Markdown rendered by
``markdown-it-py``, plots copied beside them): a contents list, then each result under its own
title with one provenance line, its tables, then its plots. Whether a result is committed is
asked of the git repository the result lies in, not of the package's.
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
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = [
    "EVAL_REPORT",
    "RESULTS",
    "SCRATCH",
    "BenchResult",
    "build_report",
    "load_results",
    "provenance",
    "pyplot",
    "result_section",
    "write_result",
]

_REPO = Path(__file__).resolve().parents[3]
RESULTS = _REPO / "bench" / "results"  # committed: one stamped result per benchmark
SCRATCH = _REPO / "bench" / "out"  # git-ignored: screenshots, profiles, runs not kept
EVAL_REPORT = _REPO / "eval" / "report"  # the eval's results, committed too


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


def _git(*args: str, cwd: Path = _REPO) -> str:
    try:
        done = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, timeout=10, check=True)
    except (OSError, subprocess.SubprocessError):
        return ""
    return done.stdout.strip()


def write_result(out: Path, stem: str, markdown: str, data: Any, plots: Sequence[str] = ()) -> dict[str, Any]:
    """``<stem>.md`` and ``<stem>.json`` under ``out``, both stamped with this run's provenance.

    ``plots``: the file names of the plots this run writes beside them (default: ``<stem>.png``),
    so the report shows each plot under the result that made it."""
    stamp = provenance()
    names = list(plots) or [f"{stem}.png"]  # the report shows those that exist
    out.mkdir(parents=True, exist_ok=True)
    footer = f"\n\n_{stamp['date']}, commit {stamp['commit']}{' (with changes)' if stamp['dirty'] else ''}: "
    footer += f"`{stamp['command']}` on {stamp['machine']['cpu']}, {stamp['machine']['cores']} cores._\n"
    (out / f"{stem}.md").write_text(markdown.rstrip("\n") + footer)
    payload = {"provenance": stamp, "plots": names, "results": data}
    (out / f"{stem}.json").write_text(json.dumps(payload, indent=1, default=_plain))
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

    name: str  # the file's stem: gateway, ladder_router
    source: Path
    markdown: str
    provenance: dict[str, Any] | None  # None: written before results carried a stamp
    plots: tuple[Path, ...]

    @property
    def title(self) -> str:
        """The result's own title (a first line ``#`` or ``##`` heading), else its name in words."""
        heading = _title_line(self.markdown)
        if heading:
            return heading.lstrip("#").strip()
        return _TITLES.get(self.name) or self.name.replace("_", " ").capitalize()

    @property
    def anchor(self) -> str:
        return "result-" + self.source.parent.name + "-" + self.name.replace("_", "-")

    @property
    def images(self) -> list[tuple[Path, str]]:
        """Each plot with the name it is copied under beside a page: ``<folder>-<file>``."""
        return [(plot, f"{self.source.parent.name}-{plot.name}") for plot in self.plots]


# for the results whose Markdown starts with a table, not a title
_TITLES = {
    "redact": "PII detection: edgesplit, without NER, and Presidio, per corpus",
    "gateway": "Gateway overhead over a direct call",
    "gateway_profile": "Where the gateway's time goes",
    "cascade_latency": "Streaming a cascade: hold against prefix",
    "soak": "Soak: a three-tier chain under load with a flapping link",
    "offline": "Offline first: deferred jobs through kills and outages",
}


def _title_line(markdown: str) -> str | None:
    first = markdown.lstrip("\n").split("\n", 1)[0]
    return first if first.startswith(("# ", "## ")) else None


def load_results(*dirs: Path) -> list[BenchResult]:
    """Every ``*.json`` result in ``dirs`` with its Markdown and the plots it names, by name."""
    results = []
    for folder in dirs:
        for path in sorted(folder.glob("*.json")) if folder.is_dir() else []:
            try:
                payload = json.loads(path.read_text())
            except (OSError, ValueError):
                continue  # not a result (a half-written file is skipped, not fatal)
            stamped = isinstance(payload, dict) and "provenance" in payload
            stamp = payload["provenance"] if stamped else None
            names = payload.get("plots") if stamped else None
            names = names if isinstance(names, list) else [f"{path.stem}.png"]  # unstamped: the same stem only
            markdown_path = path.with_suffix(".md")
            markdown = markdown_path.read_text() if markdown_path.exists() else "_(no Markdown beside this result)_"
            plots = tuple(folder / n for n in names if (folder / n).is_file())
            results.append(BenchResult(path.stem, path, markdown, stamp, plots))
    return results


def _committed(path: Path) -> str:
    """When git last committed this file, asked of the repository it lies in; "not committed" otherwise."""
    folder = path.resolve().parent
    last = _git("log", "-1", "--format=%cs, commit %h", "--", path.name, cwd=folder)
    if not last:
        return "not committed"
    changed = _git("status", "--porcelain", "--", path.name, cwd=folder)
    return f"committed {last}" + (", changed since" if changed else "")


def _provenance_line(result: BenchResult) -> str:
    stamp, committed = result.provenance, _committed(result.source)
    if stamp is None:
        return f"_No provenance stamp in the file; {committed}._"
    m = stamp["machine"]
    dirty = " (with changes)" if stamp.get("dirty") else ""
    return (
        f"_Run {stamp['date'][:10]} at commit `{stamp['commit']}`{dirty}: `{stamp['command']}` on "
        f"{m['cpu']}, {m['cores']} cores, {m['memory_gib']} GiB; {committed}._"
    )


def _body(markdown: str) -> str:
    """A result's Markdown under its report title: its own first heading and its footer stamp go
    (the report prints both once), other headings move two levels down."""
    lines = markdown.rstrip("\n").splitlines()
    if _title_line(markdown):
        lines = lines[1:]
    if lines and lines[-1].startswith("_") and "commit" in lines[-1]:
        lines = lines[:-1]  # write_result's footer: the provenance line says it
    return "\n".join("##" + line if line.startswith("#") else line for line in lines).strip("\n")


def result_section(result: BenchResult, heading: str, images: str = "") -> str:
    """One result as the report and the docs' benchmarks page show it: ``heading``, its provenance
    line, its tables, then its plots (each a paragraph of its own, never a table row), linked
    under ``images`` by the names of :attr:`BenchResult.images`."""
    parts = [heading + "\n", _provenance_line(result) + "\n", _body(result.markdown) + "\n"]
    parts += [f"![{result.title}: {plot.stem}]({images}{name})\n" for plot, name in result.images]
    return "\n".join(parts)


def build_report(sources: list[Path], out: Path) -> tuple[Path, Path]:
    """``report.md`` and ``report.html`` under ``out`` from the results in ``sources``, plots copied."""
    from markdown_it import MarkdownIt

    results = load_results(*sources)
    out.mkdir(parents=True, exist_ok=True)
    here, built = machine(), dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    where = ", ".join(f"`{_shown(s)}`" for s in sources)
    parts = [
        "# edgesplit: every benchmark and eval result\n",
        f"Built {built} at commit `{_git('rev-parse', '--short=12', 'HEAD')}` on {here['cpu']} "
        f"({here['cores']} cores, {here['memory_gib']} GiB) from {where}: {len(results)} results.\n",
        "## Contents\n",
        *[f"- [{r.title}](#{r.anchor})" for r in results],
        "",
    ]
    for result in results:
        parts.append(result_section(result, f'<h2 id="{result.anchor}">{_escape(result.title)}</h2>'))
        for plot, name in result.images:
            shutil.copyfile(plot, out / name)
    text = "\n".join(parts) + "\n"
    markdown_path, html_path = out / "report.md", out / "report.html"
    markdown_path.write_text(text)
    body = MarkdownIt("commonmark").enable("table").render(text)
    html_path.write_text(_HTML.format(body=body))
    return markdown_path, html_path


def _shown(path: Path) -> str:
    try:
        return path.resolve().relative_to(Path.cwd()).as_posix()
    except ValueError:
        return path.as_posix()


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


_HTML = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>edgesplit report</title>
<style>body{{font:15px system-ui,sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;color:#1d232b}}
table{{border-collapse:collapse;margin:.6em 0}}td,th{{border:1px solid #ccd;padding:3px 8px;text-align:left}}
img{{max-width:100%}}code{{background:#f2f3f5;padding:0 3px}}h2{{border-top:1px solid #ccd;padding-top:.8em}}</style>
</head><body>
{body}
</body></html>
"""
