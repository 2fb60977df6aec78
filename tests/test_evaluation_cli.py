"""`edgesplit eval --no-generate` and `edgesplit calibrate` on a small fixed results store."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from edgesplit.cli import app
from edgesplit.evaluation.calibrate import calibrate
from edgesplit.evaluation.results import EvalResults
from edgesplit.routing.artifact import load_artifact
from eval_data import HIDDEN_DIM, synthetic_records


def _store(path: Path) -> Path:
    records = synthetic_records(90, set_name="alpha") + synthetic_records(60, seed=1, set_name="beta")
    results = EvalResults(path)
    for record in records:
        results.add_record(record, "tests")
    results.close()
    return path


def test_report_writes_tables_plot_and_numbers(tmp_path: Path) -> None:
    db = _store(tmp_path / "results.db")
    out = tmp_path / "report"
    result = CliRunner().invoke(app, ["eval", "--no-generate", "--set", "alpha", "--set", "beta", "--db", str(db),
                                      "--out", str(out)])  # fmt: skip
    assert result.exit_code == 0, result.output
    assert (out / "router.png").stat().st_size > 10_000
    markdown = (out / "report.md").read_text()
    assert "## mix" in markdown and "objective" in markdown and "oracle" in markdown
    numbers = {r["set"]: r for r in json.loads((out / "report.json").read_text())["results"]}
    assert set(numbers) == {"alpha", "beta", "mix"}
    mix = numbers["mix"]["policies"]
    assert mix["learned (hidden + cues)"]["auroc"] > 0.95
    assert mix["cascade (whole answer)"]["auroc"] < 0.5  # the misleading confidence of the fixture
    assert mix["oracle"]["share_at_98"] >= mix["learned (hidden + cues)"]["share_at_98"] > mix["random"]["share_at_98"]


@pytest.mark.parametrize(("flag", "value"), [("--target-edge-share", "0.5"), ("--min-quality", "0.98")])
def test_calibrate_writes_an_artifact_the_edge_can_load(tmp_path: Path, flag: str, value: str) -> None:
    db = _store(tmp_path / "results.db")
    out = tmp_path / "router.json"
    result = CliRunner().invoke(app, ["calibrate", flag, value, "--db", str(db), "--out", str(out),
                                      "--edge-model", "edge-model"])  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "held-out" in result.output
    artifact = load_artifact(out, "edge-model", HIDDEN_DIM)
    summary = artifact.calibration
    assert summary["calib"]["items"] + summary["heldout"]["items"] == 150
    if flag == "--target-edge-share":
        assert summary["calib"]["edge_share"] == pytest.approx(0.5, abs=0.02)
    else:
        assert summary["calib"]["quality"] >= 0.98
        assert summary["heldout"]["quality"] >= 0.9  # the threshold sits at the edge of what calibration allowed
    assert artifact.rules.cloud_latency_ms == 900.0


def test_calibrate_errors_are_clear(tmp_path: Path) -> None:
    db = _store(tmp_path / "results.db")
    both = CliRunner().invoke(app, ["calibrate", "--target-edge-share", "0.8", "--min-quality", "0.9", "--db", str(db)])
    assert both.exit_code == 2 and "exactly one" in both.output
    empty = CliRunner().invoke(app, ["calibrate", "--min-quality", "0.9", "--db", str(tmp_path / "empty.db")])
    assert empty.exit_code == 2 and "run `edgesplit eval` first" in empty.output
    report = CliRunner().invoke(app, ["eval", "--no-generate", "--db", str(tmp_path / "empty.db")])
    assert report.exit_code == 2 and "no labelled items" in report.output


def test_calibration_threshold_reproduces_on_calibration_items(tmp_path: Path) -> None:
    records = synthetic_records(150)
    done = calibrate(records, "edge-model", "cues", target_edge_share=0.6)
    assert done.calib.edge_share == pytest.approx(0.6, abs=0.02)
    assert 0.0 <= done.heldout.edge_share <= 1.0 and done.heldout.items + done.calib.items == 150


def test_a_quick_run_too_small_to_fit_still_reports(tmp_path: Path) -> None:
    db = tmp_path / "tiny.db"
    results = EvalResults(db)
    for record in synthetic_records(6, set_name="tiny")[1:3]:  # two chat items: the edge is always good
        results.add_record(record, "tests")
    results.close()
    out = tmp_path / "report"
    result = CliRunner().invoke(app, ["eval", "--no-generate", "--set", "tiny", "--db", str(db), "--out", str(out)])
    assert result.exit_code == 0, result.output
    policies = json.loads((out / "report.json").read_text())["results"][0]["policies"]
    assert "oracle" in policies and not any(name.startswith("learned") for name in policies)
