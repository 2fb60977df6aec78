"""``edgesplit calibrate``: fit the scorer and pick its threshold on the calibration split.

The target is either an edge share (``--target-edge-share 0.8``: the threshold keeps that
share of calibration items on the edge) or a quality floor (``--min-quality 0.98``: the most
edge share whose calibration quality is at least that fraction of cloud-only). What the
threshold then gives on the held-out split is reported, since that is what to expect.

The threshold is picked on *cross-validated* scores (``folds``, default 5): each calibration
item is scored by a scorer fitted without it. A scorer's scores on its own training items are
better ordered than on new ones, so a threshold picked on them keeps too much on the edge:
that is how a 98% target became 95.3% held out. The artifact's scorer is then fitted on every
calibration item, and its held-out outcome is what the report states.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from edgesplit.errors import ConfigError
from edgesplit.evaluation.replay import (
    Embed,
    curve,
    fit_on,
    oracle_scores,
    prompt_views,
    share_at_quality,
    threshold_for_quality,
    threshold_for_share,
)
from edgesplit.evaluation.results import ItemRecord
from edgesplit.routing.artifact import RouterArtifact, RouterRules
from edgesplit.routing.scorer import FeatureKind

__all__ = ["Calibration", "SplitOutcome", "calibrate", "cross_validated_scores", "outcome"]


@dataclass(frozen=True)
class SplitOutcome:
    items: int
    edge_share: float
    quality: float  # relative to cloud-only on the same items
    oracle_share_at_quality: float  # the oracle's edge share at the same quality


@dataclass(frozen=True)
class Calibration:
    artifact: RouterArtifact
    calib: SplitOutcome
    heldout: SplitOutcome
    calib_scores: tuple[float, ...] = ()  # the scores the threshold was picked on, in calibration-item order


def outcome(records: Sequence[ItemRecord], scores: np.ndarray, threshold: float) -> SplitOutcome:
    """Edge share and relative quality of routing ``records`` with this threshold."""
    on_edge = scores >= threshold
    edge_q = np.asarray([r.edge_quality for r in records])
    cloud_q = np.asarray([r.cloud_quality for r in records])
    total = cloud_q.sum()
    quality = float(np.where(on_edge, edge_q, cloud_q).sum() / total) if total > 0 else 1.0
    oracle = share_at_quality(curve(records, oracle_scores(records)), quality)
    return SplitOutcome(len(records), float(on_edge.mean()) if len(records) else 0.0, quality, oracle)


def cross_validated_scores(
    records: Sequence[ItemRecord], kind: FeatureKind, embed: Embed | None = None, folds: int = 5
) -> np.ndarray:
    """Each record's score from a scorer fitted on the other folds (folds by position: records come
    in key order, and keys are hashed into splits, so positions carry no set or label order)."""
    scores = np.empty(len(records))
    fold_of = np.arange(len(records)) % folds
    for fold in range(folds):
        held = np.flatnonzero(fold_of == fold)
        train = [r for r, f in zip(records, fold_of, strict=True) if f != fold]
        scorer = fit_on(train, kind, embed)
        scores[held] = scorer.score_many(prompt_views([records[int(i)] for i in held], embed))
    return scores


def calibrate(
    records: Sequence[ItemRecord],
    edge_model: str,
    kind: FeatureKind = "hidden+cues",
    target_edge_share: float | None = None,
    min_quality: float | None = None,
    max_edge_prompt_tokens: int | None = None,
    embed: Embed | None = None,
    folds: int = 5,
) -> Calibration:
    """``folds`` < 2 picks the threshold on the fitted scorer's own calibration scores (the old way)."""
    if (target_edge_share is None) == (min_quality is None):
        raise ConfigError("give exactly one of --target-edge-share and --min-quality")
    calib = [r for r in records if r.split == "calib"]
    heldout = [r for r in records if r.split == "heldout"]
    if len(calib) < 10:
        raise ConfigError(f"only {len(calib)} labelled calibration items: run `edgesplit eval` first")
    scorer = fit_on(calib, kind, embed)
    if folds >= 2:
        calib_scores = cross_validated_scores(calib, kind, embed, folds)
    else:
        calib_scores = scorer.score_many(prompt_views(calib, embed))
    if target_edge_share is not None:
        threshold = threshold_for_share(calib_scores, target_edge_share)
        target = {"target_edge_share": target_edge_share}
    else:
        assert min_quality is not None
        threshold = threshold_for_quality(calib, calib_scores, min_quality)
        target = {"min_quality": min_quality}
    target["folds"] = folds
    calib_outcome = outcome(calib, calib_scores, threshold)
    heldout_outcome = outcome(heldout, scorer.score_many(prompt_views(heldout, embed)), threshold)
    cloud_ms = float(np.median([r.cloud.ms for r in records]))
    rules = RouterRules(max_edge_prompt_tokens=max_edge_prompt_tokens, cloud_latency_ms=round(cloud_ms, 1))
    summary = {
        **target,
        "sets": sorted({r.set for r in records}),
        "calib": vars(calib_outcome),
        "heldout": vars(heldout_outcome),
    }
    artifact = RouterArtifact.from_scorer(scorer, edge_model, threshold, rules, summary)
    return Calibration(artifact, calib_outcome, heldout_outcome, tuple(float(x) for x in calib_scores))
