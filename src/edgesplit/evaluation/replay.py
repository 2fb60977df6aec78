"""Replay routing policies offline over stored eval results.

A policy is a score per item (higher = keep on the edge). Keeping the top fraction ``s`` on
the edge and sending the rest to the cloud gives a mean quality; sweeping ``s`` from 0 to 1
gives the quality-vs-edge-share curve. Quality is reported relative to cloud-only (1.0 =
as good as sending everything to the cloud). Random routing is its expectation (a straight
line); the oracle keeps the items where the edge loses least.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from edgesplit.evaluation.results import ItemRecord
from edgesplit.routing.scorer import FeatureKind, LinearScorer, PromptView, fit_scorer

__all__ = [
    "Curve",
    "Embed",
    "PolicyResult",
    "auroc",
    "cascade_scores",
    "curve",
    "edge_good",
    "fit_on",
    "oracle_scores",
    "prompt_views",
    "random_curve",
    "share_at_quality",
    "threshold_for_quality",
    "threshold_for_share",
]


Embed = Callable[[str], np.ndarray]  # user text -> mean input token embedding of its prompt


@dataclass(frozen=True)
class Curve:
    shares: np.ndarray  # edge share at each cut, 0..1
    quality: np.ndarray  # mean quality relative to cloud-only at each cut


@dataclass(frozen=True)
class PolicyResult:
    name: str
    curve: Curve
    share_at_target: float  # largest edge share with quality >= target
    auroc: float  # at predicting edge_good; nan for policies without a score


def edge_good(records: Sequence[ItemRecord]) -> np.ndarray:
    """The label a scorer predicts: the edge answer is at least as good as the cloud's."""
    return np.asarray([r.edge_quality >= r.cloud_quality for r in records])


def _qualities(records: Sequence[ItemRecord]) -> tuple[np.ndarray, np.ndarray]:
    return np.asarray([r.edge_quality for r in records]), np.asarray([r.cloud_quality for r in records])


def curve(records: Sequence[ItemRecord], scores: np.ndarray) -> Curve:
    """Quality when the ``k`` best-scored items stay on the edge, for k = 0..n."""
    edge_q, cloud_q = _qualities(records)
    n = len(records)
    order = np.argsort(-scores, kind="stable")
    gain = np.concatenate([[0.0], np.cumsum(edge_q[order] - cloud_q[order])])
    total = cloud_q.sum()
    relative = (total + gain) / total if total > 0 else np.ones(n + 1)
    return Curve(np.arange(n + 1) / max(n, 1), relative)


def random_curve(records: Sequence[ItemRecord], points: int = 101) -> Curve:
    edge_q, cloud_q = _qualities(records)
    shares = np.linspace(0.0, 1.0, points)
    total = cloud_q.sum()
    mean = (shares * edge_q.sum() + (1 - shares) * total) / total if total > 0 else np.ones(points)
    return Curve(shares, mean)


def share_at_quality(result: Curve, target: float = 0.98) -> float:
    """The largest edge share whose quality is at least ``target`` of cloud-only."""
    ok = result.quality >= target - 1e-12
    return float(result.shares[ok].max()) if ok.any() else 0.0


def oracle_scores(records: Sequence[ItemRecord]) -> np.ndarray:
    edge_q, cloud_q = _qualities(records)
    scores: np.ndarray = edge_q - cloud_q + 1e-6 * edge_q  # ties: the better edge answer first
    return scores


def cascade_scores(records: Sequence[ItemRecord], probe: bool = False) -> np.ndarray:
    """The foundation's cascade: the edge answer's mean log-probability (whole, or the probe tokens)."""
    values = [r.edge.probe_logprob if probe else r.edge.mean_logprob for r in records]
    return np.asarray([v if v is not None else -math.inf for v in values])


def auroc(scores: Sequence[float] | np.ndarray, good: Sequence[bool] | np.ndarray) -> float:
    """Area under the ROC curve of ``scores`` for ``good`` (ties count half); nan when one class is missing."""
    from sklearn.metrics import roc_auc_score

    labels = np.asarray(good, dtype=bool)
    if len(set(labels.tolist())) < 2:
        return math.nan
    return float(roc_auc_score(labels.astype(int), np.nan_to_num(np.asarray(scores, dtype=np.float64), neginf=-1e9)))


def prompt_views(records: Sequence[ItemRecord], embed: Embed | None = None) -> list[PromptView]:
    """What a scorer sees of each stored item; ``embed`` adds the token-embedding summary."""
    return [
        PromptView(r.prompt, r.edge.prompt_tokens, r.edge.hidden, embed(r.prompt) if embed is not None else None)
        for r in records
    ]


def fit_on(records: Sequence[ItemRecord], kind: FeatureKind, embed: Embed | None = None) -> LinearScorer:
    gain = [r.edge_quality - r.cloud_quality for r in records]
    return fit_scorer(kind, prompt_views(records, embed), gain)


def _cut_between(sorted_desc: np.ndarray, k: int) -> float:
    """A threshold that keeps exactly the first ``k`` of the descending scores (score >= threshold)."""
    if k <= 0:
        return float(sorted_desc[0]) + 1.0 if len(sorted_desc) else 0.0
    if k >= len(sorted_desc):
        return float(sorted_desc[-1]) - 1.0
    return float((sorted_desc[k - 1] + sorted_desc[k]) / 2)


def threshold_for_share(scores: np.ndarray, share: float) -> float:
    """The threshold that keeps ``share`` of these items on the edge."""
    ranked = np.sort(scores)[::-1]
    return _cut_between(ranked, round(share * len(ranked)))


def threshold_for_quality(records: Sequence[ItemRecord], scores: np.ndarray, target: float) -> float:
    """The lowest threshold (most edge) whose quality on these items is at least ``target``."""
    result = curve(records, scores)
    ok = np.flatnonzero(result.quality >= target - 1e-12)
    k = int(ok.max()) if len(ok) else 0
    return _cut_between(np.sort(scores)[::-1], k)
