"""evaluation/bench_report.py and ``edgesplit report``: stamped results, one Markdown and one HTML page."""

from __future__ import annotations

import json
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest
from typer.testing import CliRunner

from edgesplit.cli import app
from edgesplit.evaluation.bench_report import EVAL_REPORT, RESULTS, build_report, load_results, provenance, write_result
from test_dashboard_browser import CHROMIUM, SCREENSHOTS, chromium_page

# every image comes after a table of its own result (walking back to the result's title)
PLACED = """() => [...document.images].every((img) => {
  let el = img.parentElement, table = false;  // walk back to the result's title
  while ((el = el.previousElementSibling) && !(el.tagName === 'H2' && el.id)) {
    table ||= el.tagName === 'TABLE';
  }
  return table; })"""


@dataclass
class Row:
    link: str
    p50_ms: float


def test_a_result_carries_commit_date_command_and_machine(tmp_path: Path) -> None:
    table = "# Gateway\n\n| link | p50 |\n|---|---:|\n| lan | 1.5 |"
    stamp = write_result(tmp_path, "gateway", table, [Row("lan", 1.5)])
    saved = json.loads((tmp_path / "gateway.json").read_text())
    assert saved["results"] == [{"link": "lan", "p50_ms": 1.5}]  # dataclasses become plain JSON
    assert saved["provenance"] == stamp and len(stamp["commit"]) == 12
    assert stamp["machine"]["cores"] >= 1 and stamp["machine"]["cpu"]
    assert stamp["commit"] in (tmp_path / "gateway.md").read_text()  # the Markdown says where it came from
    assert provenance(["bench/x.py", "--fast"])["command"] == "bench/x.py --fast"


def test_report_collects_every_result_with_its_plots(tmp_path: Path) -> None:
    bench, evals, out = tmp_path / "bench", tmp_path / "eval", tmp_path / "report"
    table = "# Sync over emulated links\n\n| link | p50 s |\n|---|---:|\n| 4g | 45.9 |"
    (bench).mkdir()
    (bench / "sync.png").write_bytes(b"\x89PNG\r\n\x1a\n")
    (bench / "sync_extra.png").write_bytes(b"\x89PNG\r\n\x1a\n")  # another run's plot: not sync's
    write_result(bench, "sync", table, {"4g": 45.9})
    evals.mkdir()
    (evals / "router.png").write_bytes(b"\x89PNG\r\n\x1a\n")
    write_result(evals, "report", "# Router\n\n| set | share |\n|---|---:|\n| mbpp | 0.5 |", [], plots=["router.png"])
    (evals / "ladder.json").write_text("[]")  # an unstamped result
    (evals / "ladder.md").write_text("# Ladder\n\nshares per tier")
    (evals / "broken.json").write_text("{not json")  # skipped, not fatal
    markdown, html = build_report([bench, evals], out)
    results = load_results(bench, evals)
    assert [r.name for r in results] == ["sync", "ladder", "report"]
    assert [p.name for p in results[0].plots] == ["sync.png"] and [p.name for p in results[2].plots] == ["router.png"]
    text = markdown.read_text()
    assert "## Contents" in text and "- [Sync over emulated links](#result-bench-sync)" in text
    assert text.count(">Sync over emulated links</h2>") == 1 and "# Sync over" not in text  # one title, not two
    assert str(tmp_path) not in text.split("## Contents")[1]  # readable titles, not absolute paths
    assert text.count("commit `") == 3  # one provenance line per stamped result, plus the build line
    assert "not committed" in text  # tmp_path is in no git repository
    # plots after their tables, on a paragraph of their own
    after = text.split('id="result-bench-sync"')[1]
    assert after.index("45.9") < after.index("![Sync over emulated links: sync](bench-sync.png)")
    assert "sync_extra" not in text and "![Router: router](eval-router.png)" in text
    assert "No provenance stamp" in text and "shares per tier" in text
    page = html.read_text()
    assert "<table>" in page and "45.9</td>" in page and (out / "bench-sync.png").exists()
    assert '<p><img src="bench-sync.png"' in page  # not inside a table cell


def test_committed_is_asked_of_the_results_own_repository(tmp_path: Path) -> None:
    repo = tmp_path / "results"
    repo.mkdir()
    git = ["git", "-C", str(repo), "-c", "user.email=t@example.org", "-c", "user.name=t"]
    subprocess.run([*git, "init", "-q"], check=True)
    write_result(repo, "gateway", "# Gateway\n\n| a | b |\n|---|---|\n| 1 | 2 |", {})
    subprocess.run([*git, "add", "."], check=True)
    subprocess.run([*git, "commit", "-qm", "results"], check=True)
    markdown, _ = build_report([repo], tmp_path / "out")
    assert "; committed 20" in markdown.read_text() and "not committed" not in markdown.read_text()


def test_the_committed_results_have_a_stamp_and_their_plots() -> None:
    """bench/results and eval/report: every result stamped (commit, date, command, machine), plots present."""
    results = load_results(RESULTS, EVAL_REPORT)
    assert len(results) >= 5
    for result in results:
        assert result.provenance is not None, result.source
        assert result.provenance["command"] and len(result.provenance["commit"]) == 12, result.source
    assert {"gateway", "report", "ladder_router"} <= {r.name for r in results}
    assert all(r.plots for r in results if r.name in ("gateway", "report", "ladder_router"))


def test_report_cli_works_from_the_committed_results(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["report", "--source", str(tmp_path / "nope"), "--out", str(tmp_path)])
    assert result.exit_code == 2 and "no such folder" in result.output
    result = CliRunner().invoke(app, ["report", "--out", str(tmp_path / "r")])  # the defaults: committed results
    assert result.exit_code == 0, result.output
    assert (tmp_path / "r" / "report.html").exists() and "with a provenance stamp" in result.output


@pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="Debian's chromium is not installed (.ci/run installs it)")
def test_report_reads_in_chromium(tmp_path: Path) -> None:
    """The report of the committed results in a real browser: contents links land on their results,
    every plot loads and sits after its result's table, no console error."""
    _, html = build_report([RESULTS, EVAL_REPORT], tmp_path / "report")
    errors: list[str] = []
    with chromium_page(tmp_path, html.as_uri(), errors) as page:
        links = page.eval_on_selector_all("ul a[href^='#result-']", "as => as.map((a) => a.hash.slice(1))")
        targets = page.eval_on_selector_all("h2[id^='result-']", "hs => hs.map((h) => h.id)")
        broken = page.evaluate("() => [...document.images].filter((i) => !i.complete || !i.naturalWidth).length")
        in_tables = page.evaluate("() => document.querySelectorAll('table img').length")
        placed = page.evaluate(PLACED)
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SCREENSHOTS / "report.png"))
    assert errors == [] and links == targets and len(links) >= 5
    assert broken == 0 and in_tables == 0 and placed
