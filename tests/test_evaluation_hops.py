"""evaluation/hops.py and hops_report.py: a router per hop, calibrated for one end-to-end quality."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from edgesplit.cli import app
from edgesplit.evaluation.calibrate import cross_validated_scores
from edgesplit.evaluation.hops import calibrate_ladder, replay_ladder, route_ladder
from edgesplit.evaluation.replay import fit_on, prompt_views
from edgesplit.evaluation.results import EvalResults, ItemRecord, Label
from edgesplit.routing.artifact import load_artifact
from eval_data import synthetic_records


def _local_hop(device: list[ItemRecord]) -> list[ItemRecord]:
    """The local tier for the same items: it fails only every second coding prompt (i % 6 == 0)."""
    out = []
    for r in device:
        i = int(r.key.rsplit("/", 1)[1])
        answer = replace(r.edge, tier="local", model="local-model", hidden=None)
        out.append(replace(r, edge=answer, edge_quality=0.0 if i % 6 == 0 else 1.0))
    return out


def _hops(n: int = 180) -> dict[str, list[ItemRecord]]:
    device = synthetic_records(n)
    return {"edge": device, "local": _local_hop(device)}


def _scores(hops: dict[str, list[ItemRecord]], value: dict[str, float]) -> dict[str, dict[str, float]]:
    return {tier: {r.key: value[tier] for r in records} for tier, records in hops.items()}


def test_routing_down_the_ladder_counts_shares_quality_and_cloud_tokens() -> None:
    hops = _hops(60)
    everything_up = route_ladder("all", hops, _scores(hops, {"edge": 0.0, "local": 0.0}), {"edge": 1, "local": 1})
    assert everything_up.shares == {"device": 0.0, "local": 0.0, "cloud": 1.0}
    assert everything_up.quality == 1.0 and everything_up.cloud_tokens_ratio == 1.0
    at_local = route_ladder("all", hops, _scores(hops, {"edge": 0.0, "local": 2.0}), {"edge": 1, "local": 1})
    assert at_local.shares["local"] == 1.0 and at_local.cloud_tokens_ratio == 0.0
    assert at_local.quality == pytest.approx(50 / 60)  # 10 of 60 items (i % 6 == 0) fail at the local tier
    # the oracle ladder: device good on chat items (2/3), local good on 5/6: 50 of 60 never reach the cloud
    assert at_local.oracle_below_cloud == pytest.approx(50 / 60)


def test_cross_validated_scores_come_from_a_scorer_fitted_without_the_item() -> None:
    records = [r for r in synthetic_records(40) if r.split == "calib"]
    scores = cross_validated_scores(records, "cues", folds=len(records))  # leave one out
    others = fit_on(records[1:], "cues")
    assert scores[0] == pytest.approx(others.score_many(prompt_views(records[:1]))[0])
    own = fit_on(records, "cues").score_many(prompt_views(records))
    assert not np.allclose(scores, own)


def test_the_ladder_meets_its_target_on_calibration_items_and_keeps_work_below_the_cloud() -> None:
    hops = _hops()
    ladder = calibrate_ladder(hops, {"edge": "edge-model", "local": "local-model"}, {}, 0.98, "cues", folds=5)
    assert ladder.calib.quality >= 0.98
    assert ladder.calib.below_cloud > 0.5  # chat items stay at the device, most coding at the local tier
    for outcome in (ladder.calib, ladder.heldout):
        assert sum(outcome.shares.values()) == pytest.approx(1.0)
    device, local = ladder.hops
    assert (device.artifact.edge_model, local.artifact.edge_model) == ("edge-model", "local-model")
    assert "threshold_from" in local.artifact.calibration and local.artifact.sha256 == local.artifact.checksum()


def test_replaying_the_fitted_routers_gives_the_ladders_own_held_out_outcome() -> None:
    hops = _hops()
    ladder = calibrate_ladder(hops, {"edge": "edge-model", "local": "local-model"}, {}, 0.98, "cues", folds=5)
    artifacts = {hop.tier: hop.artifact for hop in ladder.hops}
    assert replay_ladder(hops, artifacts, {}) == ladder.heldout
    keep_none = {tier: a.model_copy(update={"threshold": 1e9}) for tier, a in artifacts.items()}
    assert replay_ladder(hops, keep_none, {}).shares["cloud"] == 1.0  # each router at its own threshold


def test_report_and_cli_write_both_artifacts_and_the_numbers(tmp_path: Path) -> None:
    hops = _hops()
    db = tmp_path / "results.db"
    results = EvalResults(db)
    for device, local in zip(hops["edge"], hops["local"], strict=True):
        results.add_record(device, "tests")
        results.put_answer(device.key, local.edge)
        results.put_label(device.key, "local", Label(local.edge_quality, "tests", "", 0.0))
    results.close()
    routers, report = tmp_path / "routers", tmp_path / "report"
    args = ["calibrate-ladder", "--db", str(db), "--out-dir", str(routers), "--report", str(report)]
    result = CliRunner().invoke(app, [*args, "--features", "cues"])
    assert result.exit_code == 0, result.output
    again = CliRunner().invoke(app, [*args, "--features", "cues", "--compare", str(routers)])
    assert again.exit_code == 0 and again.output.count("heldout") == 2, again.output  # and the replayed row
    for model in ("edge-model", "local-model"):
        assert load_artifact(routers / f"{model}.json", edge_model=model).features == "cues"
    data = json.loads((report / "ladder_router.json").read_text())["results"]
    assert [h["hop"] for h in data["hops"]] == ["device vs cloud", "local vs cloud"]
    assert data["calib"]["quality"] >= 0.98 and (report / "ladder_router.png").stat().st_size > 10_000
    assert "ratio to oracle" in (report / "ladder_router.md").read_text()


def test_the_cli_says_when_no_local_tier_was_evaluated(tmp_path: Path) -> None:
    db = tmp_path / "results.db"
    results = EvalResults(db)
    for record in synthetic_records(30):
        results.add_record(record, "tests")
    results.close()
    result = CliRunner().invoke(app, ["calibrate-ladder", "--db", str(db), "--features", "cues"])
    assert result.exit_code == 2 and "labelled at the local tier" in result.output
    bad = CliRunner().invoke(app, ["calibrate-ladder", "--db", str(db), "--local-features", "nope"])
    assert bad.exit_code == 2 and "--local-features" in bad.output
