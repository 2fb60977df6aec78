"""Replaying routing policies over stored results: curves, oracle, random, thresholds, AUROC."""

from __future__ import annotations

import math

import numpy as np
import pytest

from edgesplit.evaluation.replay import (
    auroc,
    cascade_scores,
    curve,
    edge_good,
    fit_on,
    oracle_scores,
    prompt_views,
    random_curve,
    share_at_quality,
    threshold_for_quality,
    threshold_for_share,
)
from eval_data import synthetic_embed, synthetic_records


def test_curve_ends_at_cloud_only_and_edge_only() -> None:
    records = synthetic_records(30)
    result = curve(records, np.zeros(len(records)))
    assert result.shares[0] == 0.0 and result.quality[0] == 1.0  # all in the cloud
    edge_mean = np.mean([r.edge_quality for r in records])
    assert result.shares[-1] == 1.0 and result.quality[-1] == pytest.approx(edge_mean)


def test_oracle_beats_every_policy_and_random_is_a_line() -> None:
    records = synthetic_records(60)
    oracle = curve(records, oracle_scores(records))
    rng = np.random.default_rng(1)
    for scores in (cascade_scores(records), rng.normal(size=len(records))):
        other = curve(records, scores)
        assert np.all(oracle.quality >= other.quality - 1e-12)
    line = random_curve(records)
    assert np.allclose(np.diff(line.quality, 2), 0.0)
    # the edge fails a third of the items: the oracle keeps the other two thirds at full quality
    assert share_at_quality(oracle, 1.0) == pytest.approx(40 / 60)
    assert share_at_quality(line, 0.98) == pytest.approx(0.06, abs=0.011)


def test_misleading_confidence_is_below_chance() -> None:
    records = synthetic_records(60)
    assert auroc(cascade_scores(records), edge_good(records)) < 0.5
    assert auroc(oracle_scores(records), edge_good(records)) == 1.0
    assert math.isnan(auroc(np.ones(3), np.ones(3, dtype=bool)))


def test_learned_scorer_separates_held_out_items() -> None:
    records = synthetic_records(120)
    calib = [r for r in records if r.split == "calib"]
    heldout = [r for r in records if r.split == "heldout"]
    assert 30 < len(calib) < 90  # the hash split is about half and half
    for kind in ("hidden+cues", "embed+cues", "cues"):
        scorer = fit_on(calib, kind, synthetic_embed)  # type: ignore[arg-type]
        scores = scorer.score_many(prompt_views(heldout, synthetic_embed))
        assert auroc(scores, edge_good(heldout)) > 0.95
        assert share_at_quality(curve(heldout, scores)) >= 0.9 * share_at_quality(
            curve(heldout, oracle_scores(heldout))
        )


def test_thresholds_hit_their_targets() -> None:
    records = synthetic_records(50)
    scores = np.linspace(0.01, 0.99, len(records))
    threshold = threshold_for_share(scores, 0.8)
    assert np.mean(scores >= threshold) == pytest.approx(0.8)
    assert np.all(scores < threshold_for_share(scores, 0.0)) and np.all(scores >= threshold_for_share(scores, 1.0))
    oracle = oracle_scores(records)
    cut = threshold_for_quality(records, oracle, 1.0)
    kept = oracle >= cut
    assert all(r.edge_quality == 1.0 for r, k in zip(records, kept, strict=True) if k)
    assert kept.sum() == sum(r.edge_quality == 1.0 for r in records)
