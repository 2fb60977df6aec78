"""evaluation/bench_report.py and ``edgesplit report``: stamped results, one Markdown and one HTML page."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from typer.testing import CliRunner

from edgesplit.cli import app
from edgesplit.evaluation.bench_report import build_report, load_results, provenance, write_result


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
    write_result(bench, "sync", "# Sync\n\n| link | p50 s |\n|---|---:|\n| 4g | 45.9 |", {"4g": 45.9})
    (bench / "sync.png").write_bytes(b"\x89PNG\r\n\x1a\n")
    evals.mkdir()
    (evals / "ladder.json").write_text("[]")  # an unstamped result (the eval's)
    (evals / "ladder.md").write_text("# Ladder\n\nshares per tier")
    (evals / "broken.json").write_text("{not json")  # skipped, not fatal
    markdown, html = build_report([bench, evals], out)
    assert [r.name.rsplit("/", 1)[1] for r in load_results(bench, evals)] == ["sync", "ladder"]
    text = markdown.read_text()
    assert "## " + bench.as_posix() + "/sync" in text and "45.9" in text and "![sync](sync.png)" in text
    assert "No provenance stamp" in text and "shares per tier" in text
    page = html.read_text()
    assert "<table>" in page and "45.9</td>" in page and (out / "sync.png").exists()


def test_report_cli_refuses_a_missing_folder(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["report", "--source", str(tmp_path / "nope"), "--out", str(tmp_path)])
    assert result.exit_code == 2 and "no such folder" in result.output
    result = CliRunner().invoke(app, ["report", "--source", str(tmp_path), "--out", str(tmp_path / "r")])
    assert result.exit_code == 0 and (tmp_path / "r" / "report.html").exists()
