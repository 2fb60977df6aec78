"""The CLI over real nodes: chat streams and shows the route; demo runs end to end."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from edgesplit.cli import app
from edgesplit.config import load_settings
from edgesplit.demo import percentile, run_demo
from edgesplit.server import NodeServer


def test_chat_streams_and_shows_route(edge: NodeServer) -> None:
    result = CliRunner().invoke(app, ["chat", "Say hi", "--url", edge.url, "--route", "edge", "--max-tokens", "8"])
    assert result.exit_code == 0, result.output
    assert "route: edge (forced)" in result.output


def test_chat_reports_unreachable_node() -> None:
    result = CliRunner().invoke(app, ["chat", "Hi", "--url", "http://127.0.0.1:9"])
    assert result.exit_code == 1
    assert "cannot reach" in result.output


def test_demo_runs_both_tiers_and_reports_routes(tmp_path: Path) -> None:
    # the real demo loads the 1.5B cloud model; here both tiers run the small one, same code path
    cloud = load_settings(
        role="cloud",
        port=0,
        model="smollm2-135m-instruct",
        api_token="demo-token",
        data_dir=tmp_path / "cloud",
        speculative_model="smollm2-135m-instruct",
    )
    edge = load_settings(role="edge", port=0, cascade_threshold=-0.6, data_dir=tmp_path / "edge")
    prompts = [("easy", "Say hi."), ("hard", "Write a Python function that reverses a list.")]
    stages: list[str] = []
    checks: list[Any] = []
    results = run_demo(edge, cloud, prompts=prompts, max_tokens=16, on_stage=stages.append, on_check=checks.append)
    assert [r.prompt for r in results] == [p for _, p in prompts]
    assert all(r.route in ("edge", "cloud") and r.reason and r.latency_s > 0 for r in results)
    assert any("cloud" in s for s in stages) and any("edge" in s for s in stages)
    assert len(checks) == 1 and checks[0].identical and checks[0].completion_tokens > 0


@pytest.mark.parametrize(("values", "q", "expected"), [([], 50, 0.0), ([3.0], 95, 3.0), ([1.0, 2.0, 3.0], 50, 2.0)])
def test_percentile(values: list[float], q: float, expected: float) -> None:
    assert percentile(values, q) == pytest.approx(expected)


def test_redact_reads_stdin_and_file(tmp_path: Path) -> None:
    text = "Email ana@example.com, CPF 529.982.247-25."
    result = CliRunner().invoke(app, ["redact", "--no-ner"], input=text)
    assert result.exit_code == 0, result.output
    assert "Email <EMAIL_ADDRESS_1>, CPF <BR_CPF_1>." in result.output
    assert "BR_CPF" in result.output and "pattern" in result.output
    path = tmp_path / "msg.txt"
    path.write_text(text)
    assert "<EMAIL_ADDRESS_1>" in CliRunner().invoke(app, ["redact", str(path), "--no-ner"]).output
    missing = CliRunner().invoke(app, ["redact", str(tmp_path / "nope.txt")])
    assert missing.exit_code == 2 and "error" in missing.output


def test_summary_line_counts_easy_and_hard() -> None:
    from edgesplit.cli.demo import _summary_line
    from edgesplit.demo import DemoResult

    def result(kind: str, route: str, rule: str = "cascade-kept") -> DemoResult:
        return DemoResult(kind, "p", route, rule, "r", 1.0, 10, "a")

    line = _summary_line(
        [result("easy", "edge"), result("easy", "cloud"), result("hard", "cloud"), result("hard", "edge", "fallback")]
    )
    assert line == (
        "confidence cascade: edge share 50%; fallbacks 1; easy kept on the edge 1/2; hard sent to the cloud 1/2"
    )
