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


def test_demo_runs_three_tiers_and_reports_where_each_answer_was_written(tmp_path: Path) -> None:
    # the real demo loads the ladder's models (135M, 0.5B, 1.5B); here every tier runs the small one
    small = "smollm2-135m-instruct"
    cloud = load_settings(
        role="cloud", port=0, model=small, api_token="demo-token", data_dir=tmp_path / "cloud", speculative_model=small
    )
    # exact verification: this test checks the speculative answer token for token (batched may part at near-ties)
    local = load_settings(
        role="local", port=0, model=small, api_token="local-token", data_dir=tmp_path / "local",
        speculative_verify="exact",
    )  # fmt: skip
    device = load_settings(role="edge", port=0, cascade_threshold=-0.6, data_dir=tmp_path / "device")
    prompts = [("easy", "Say hi."), ("hard", "Write a Python function that reverses a list.")]
    stages: list[str] = []
    checks: list[Any] = []
    results = run_demo(
        device, local, cloud, prompts=prompts, max_tokens=16, on_stage=stages.append, on_check=checks.append
    )
    assert [r.prompt for r in results] == [p for _, p in prompts]
    assert all(r.tier in ("device", "local", "cloud") and r.reason and r.latency_s > 0 for r in results)
    assert all(r.hops[0]["tier"] == "device" and r.hops[-1]["tier"] == r.tier for r in results)
    assert [s for s in stages if s.startswith("loading")] == [
        f"loading cloud model {small}",
        f"loading local model {small}",
        f"loading device model {small}",
    ]
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


def test_summary_line_counts_tiers_and_fallbacks() -> None:
    from edgesplit.cli.demo import _summary_line
    from edgesplit.demo import DemoResult

    def result(kind: str, tier: str, fallback: bool = False) -> DemoResult:
        hops = [{"tier": "device", "fallback": fallback}] + ([{"tier": tier}] if tier != "device" else [])
        return DemoResult(kind, "p", tier, "cascade-kept", "r", 1.0, 10, "a", hops)

    line = _summary_line(
        [result("easy", "device"), result("easy", "local"), result("hard", "cloud"), result("hard", "device", True)]
    )
    assert line == (
        "device confidence cascade: 75% never reached the cloud; fallbacks 1; "
        "routine kept below the cloud 2/2; hard answered above the device 1/2"
    )
