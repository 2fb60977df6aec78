"""The split planner on synthetic profiles, the engine profiler, and `edgesplit plan` against a real cloud."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from conftest import CLOUD_TOKEN
from edgesplit.cli import app
from edgesplit.engine.codec import CODECS
from edgesplit.engine.profile import NodeProfile
from edgesplit.planner.split import LinkEstimate, options, plan
from edgesplit.server import NodeServer


def _profile(layer_decode_ms: float, full_decode_ms: float) -> NodeProfile:
    return NodeProfile(
        model="m",
        n_layers=10,
        dim=512,
        prompt_tokens=32,
        embed_ms=0.1,
        layer_prefill_ms=[layer_decode_ms * 4] * 10,
        layer_decode_ms=[layer_decode_ms] * 10,
        head_prefill_ms=1.0,
        head_decode_ms=1.0,
        full_prefill_ms=layer_decode_ms * 40,
        full_decode_ms=full_decode_ms,
    )


SLOW_EDGE, FAST_CLOUD = _profile(10.0, 100.0), _profile(1.0, 10.0)


def test_fast_link_slow_edge_goes_to_the_cloud() -> None:
    result = plan(SLOW_EDGE, FAST_CLOUD, LinkEstimate(rtt_ms=2, bandwidth_mbps=1000), 32, 64)
    assert result.choice.name == "cloud"


def test_dead_slow_link_stays_on_the_edge() -> None:
    # streaming from the cloud pays the round trip once, so the edge must be within reach of the cloud's speed
    decent_edge = _profile(2.0, 20.0)
    result = plan(decent_edge, FAST_CLOUD, LinkEstimate(rtt_ms=2000, bandwidth_mbps=0.1), 32, 64)
    assert result.choice.name == "edge"
    assert plan(decent_edge, FAST_CLOUD, LinkEstimate(rtt_ms=1, bandwidth_mbps=1000), 32, 64).choice.name == "cloud"


def test_predictions_add_up() -> None:
    link = LinkEstimate(rtt_ms=20, bandwidth_mbps=8)
    table = {o.name: o for o in options(SLOW_EDGE, FAST_CLOUD, link, 32)}
    split = table["split@4/int8"]
    expected = 0.1 + 4 * 10 + 20 + link.transfer_ms(512 + 4 + 20) + 6 * 1 + 1
    assert split.per_token_ms == pytest.approx(expected)
    assert split.cloud_ms_per_token == pytest.approx(7.0)
    assert table["split@4/int8"].bytes_per_token < table["split@4/fp32"].bytes_per_token
    assert len(table) == 2 + len(CODECS) * 9  # edge, cloud, k in 1..9 for every codec


def test_least_cloud_within_budget_and_policy() -> None:
    link = LinkEstimate(rtt_ms=1, bandwidth_mbps=1000)
    cheap = plan(SLOW_EDGE, FAST_CLOUD, link, 32, 64, objective="least-cloud", latency_budget_ms=1e9)
    assert cheap.choice.name == "edge"  # no cloud compute at all
    tight = plan(SLOW_EDGE, FAST_CLOUD, link, 32, 64, objective="least-cloud", latency_budget_ms=3000)
    assert tight.choice.k is not None and tight.choice.total_ms(64) <= 3000
    no_split = plan(SLOW_EDGE, FAST_CLOUD, link, 32, 64, allow_split=False)
    assert all(o.k is None for o in no_split.options)


def test_profile_endpoint_and_plan_cli(cloud: NodeServer, tmp_path: Path) -> None:
    auth = {"authorization": f"Bearer {CLOUD_TOKEN}"}
    measured = NodeProfile.model_validate(httpx.get(f"{cloud.url}/v1/split/profile", headers=auth, timeout=600).json())
    assert measured.n_layers == 30 and len(measured.layer_decode_ms) == 30
    assert all(t > 0 for t in measured.layer_decode_ms) and measured.full_decode_ms and measured.full_decode_ms > 0
    edge_profile = tmp_path / "edge.json"
    edge_profile.write_text(measured.model_dump_json())
    result = CliRunner().invoke(
        app,
        [
            "plan",
            "--upstream",
            cloud.url,
            "--token",
            CLOUD_TOKEN,
            "--edge-profile",
            str(edge_profile),
            "--rtt-ms",
            "5000",
            "--bandwidth-mbps",
            "0.2",
        ],
    )
    assert result.exit_code == 0, result.output
    assert (
        "edge <- choice" in result.output.replace("\n", "").replace("│", "").replace("  ", " ")
        or "choice" in result.output
    )


def test_speculative_options_follow_acceptance_and_round_trip() -> None:
    from edgesplit.planner.split import SpeculativeEstimate, speculative_options

    cloud = _profile(1.0, 30.0)
    far = LinkEstimate(rtt_ms=100, bandwidth_mbps=100)
    good = {o.name: o for o in speculative_options(cloud, far, 32, SpeculativeEstimate(8.0, 0.8))}
    bad = {o.name: o for o in speculative_options(cloud, far, 32, SpeculativeEstimate(8.0, 0.0))}
    assert len(good) == 16  # draft lengths 1..8, exact and batched
    # a round trip per token (acceptance 0, one draft token) vs rounds of several tokens
    assert bad["speculative@1/exact"].per_token_ms == pytest.approx(8 + 100 + far.transfer_ms(4) + 30)
    assert good["speculative@6/exact"].per_token_ms < bad["speculative@1/exact"].per_token_ms / 2
    # exact mode checks token by token: the cloud computes what it would alone; batched saves passes
    assert good["speculative@6/exact"].cloud_ms_per_token == pytest.approx(30)
    assert good["speculative@6/batched"].cloud_ms_per_token < 30
    result = plan(SLOW_EDGE, cloud, far, 32, 64, allow_split=False, speculative=SpeculativeEstimate(8.0, 0.8))
    assert result.choice.name.startswith("speculative") or result.choice.name == "cloud"
    assert any(o.name.startswith("speculative") for o in result.options)
    refused = plan(SLOW_EDGE, cloud, far, 32, 64, allow_cloud=False, speculative=SpeculativeEstimate(8.0, 0.8))
    assert not any(o.name.startswith("speculative") for o in refused.options)  # text may not leave


def test_plan_cli_adds_speculative_options(cloud: NodeServer, tmp_path: Path) -> None:
    args = ["plan", "--upstream", cloud.url, "--token", CLOUD_TOKEN, "--rtt-ms", "100", "--bandwidth-mbps", "10"]
    result = CliRunner().invoke(app, [*args, "--acceptance", "0.7"], env={"COLUMNS": "200"})  # profiles this node
    assert result.exit_code == 0, result.output
    assert "speculative@" in result.output
    auth = {"authorization": f"Bearer {CLOUD_TOKEN}"}
    profile = tmp_path / "edge.json"  # the same model on the same machine: no need to profile it twice
    profile.write_text(httpx.get(f"{cloud.url}/v1/split/profile", headers=auth, timeout=600).text)
    without = CliRunner().invoke(app, [*args, "--edge-profile", str(profile)], env={"COLUMNS": "200"})
    assert without.exit_code == 0, without.output
    assert "speculative@" not in without.output
