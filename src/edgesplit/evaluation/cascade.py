"""The answer-level cascade over the ladder: fit a check per hop, calibrate it, measure it held out.

Each lower tier (device, local) answers, then its check keeps the answer when P(acceptable)
clears its threshold, else the request climbs. The checks are fitted on the calibration split
with objective labels ("this tier's answer passes its rule"); both thresholds are chosen
together on cross-validated calibration scores, to keep the most requests below the cloud while
the ladder's quality stays at ``target`` x cloud-only quality. The held-out split is touched once,
for the figures.

Compared per feature set (signal groups, see ``routing/answer_signals.py``) and, for AUROC,
against gradient boosting on the same signals. The oracle serves each item at the lowest tier
whose answer is as good as the cloud's.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from edgesplit.evaluation.cascade_data import LOWER, CascadeItem, columns
from edgesplit.routing.answer_check import AnswerCheck, fit_check

__all__ = ["FEATURE_SETS", "HopChecks", "LadderOutcome", "calibrate", "cv_probabilities", "fit_hops", "serve"]

# The foundation's cascade (the answer's mean log-probability against a threshold) is the baseline
# the report adds beside these; it needs no fit.
FEATURE_SETS: dict[str, tuple[str, ...]] = {
    "prompt cues only": ("cues",),
    "tokens": ("cues", "tokens"),
    "tokens + tasks": ("cues", "tokens", "tasks"),
    "tokens + tasks + consistency": ("cues", "tokens", "tasks", "consistency"),
    "tokens + tasks + upstream": ("cues", "tokens", "tasks", "upstream"),
    "all": ("cues", "tokens", "tasks", "consistency", "upstream"),
}


@dataclass(frozen=True)
class HopChecks:
    groups: tuple[str, ...]
    checks: dict[str, AnswerCheck]  # lower tier -> its check


@dataclass(frozen=True)
class LadderOutcome:
    served: list[str]  # tier per item
    quality: float  # mean quality served
    cloud_quality: float  # mean quality of cloud-only
    below_cloud: float  # share never reaching the cloud

    @property
    def quality_ratio(self) -> float:
        return self.quality / self.cloud_quality if self.cloud_quality else float("nan")


def _matrix(items: Sequence[CascadeItem], tier: str, groups: Sequence[str]) -> np.ndarray:
    return np.stack([item.signals[tier][columns(groups)] for item in items])


def fit_hops(items: Sequence[CascadeItem], groups: Sequence[str], models: dict[str, str]) -> HopChecks:
    checks = {}
    for tier in LOWER:
        x = _matrix(items, tier, groups)
        checks[tier] = fit_check(models[tier], groups, x, [i.acceptable(tier) for i in items])
    return HopChecks(tuple(groups), checks)


def probabilities(hops: HopChecks, items: Sequence[CascadeItem]) -> dict[str, np.ndarray]:
    return {tier: hops.checks[tier].probabilities(_matrix(items, tier, hops.groups)) for tier in LOWER}


def cv_probabilities(
    items: Sequence[CascadeItem], groups: Sequence[str], models: dict[str, str], folds: int = 5
) -> dict[str, np.ndarray]:
    """Out-of-fold P(acceptable) per lower tier: each item scored by checks fitted without it."""
    order = np.random.default_rng(0).permutation(len(items))
    out = {tier: np.zeros(len(items)) for tier in LOWER}
    for fold in range(folds):
        held = order[fold::folds]
        held_set = set(held.tolist())
        train = [items[i] for i in order if i not in held_set]
        hops = fit_hops(train, groups, models)
        scored = probabilities(hops, [items[i] for i in held])
        for tier in LOWER:
            out[tier][held] = scored[tier]
    return out


_TIERS = (*LOWER, "cloud")


def _serving(p: dict[str, np.ndarray], thresholds: tuple[float, float]) -> np.ndarray:
    """Index into (edge, local, cloud) per item: the device keeps at p >= t_device, else the local tier
    at p >= t_local, else the cloud."""
    at_edge = p["edge"] >= thresholds[0]
    return np.where(at_edge, 0, np.where(p["local"] >= thresholds[1], 1, 2))


def serve(items: Sequence[CascadeItem], p: dict[str, np.ndarray], thresholds: tuple[float, float]) -> LadderOutcome:
    """The ladder with these checks (see :func:`_serving`)."""
    served = [_TIERS[k] for k in _serving(p, thresholds)]
    quality = float(np.mean([item.quality[tier] for item, tier in zip(items, served, strict=True)]))
    cloud = float(np.mean([item.quality["cloud"] for item in items]))
    return LadderOutcome(served, quality, cloud, 1 - served.count("cloud") / len(items))


def calibrate(
    items: Sequence[CascadeItem],
    p: dict[str, np.ndarray],
    target: float,
    confidence: float = 0.0,
    resamples: int = 200,
) -> tuple[float, float]:
    """Thresholds that keep the most below the cloud at quality >= target x cloud-only (ties: higher quality).

    With ``confidence`` > 0 the target must also hold in that share of bootstrap resamples of the
    items: thresholds fitted to exactly the target on a few dozen items fall short on new ones."""
    q = np.asarray([[i.quality[t] for i in items] for t in _TIERS], dtype=np.float64)  # (3, n)
    cloud, columns_ = q[2], np.arange(len(items))
    boot = np.random.default_rng(0).integers(0, len(items), (resamples, len(items))) if confidence > 0 else None
    boot_cloud = np.maximum(cloud[boot].sum(axis=1), 1e-12) if boot is not None else None
    grid = {tier: np.unique(np.concatenate([p[tier], [0.0, 1.0 + 1e-9]])) for tier in LOWER}
    best: tuple[float, float, tuple[float, float]] = (-1.0, -1.0, (1.0 + 1e-9, 1.0 + 1e-9))
    for t_edge in grid["edge"]:
        for t_local in grid["local"]:
            tier = _serving(p, (float(t_edge), float(t_local)))
            served = q[tier, columns_]
            if served.sum() < target * cloud.sum() - 1e-12:
                continue
            if boot is not None and np.quantile(served[boot].sum(axis=1) / boot_cloud, 1 - confidence) < target:
                continue
            key = (float((tier < 2).mean()), float(served.sum()))
            if key > best[:2]:
                best = (*key, (float(t_edge), float(t_local)))
    return best[2]


def oracle(items: Sequence[CascadeItem]) -> list[str]:
    """Each item at the lowest tier whose answer is as good as the cloud's."""
    return [next(t for t in (*LOWER, "cloud") if item.quality[t] >= item.quality["cloud"]) for item in items]


def family_table(items: Sequence[CascadeItem], served: Sequence[str]) -> list[dict[str, Any]]:
    """Per family: where the ladder served it, how often it was right, and cloud-only's and the oracle's."""
    rows = []
    best = oracle(items)
    for family in sorted({i.family for i in items}, key=lambda f: (any(i.hard for i in items if i.family == f), f)):
        idx = [k for k, i in enumerate(items) if i.family == family]
        rows.append({
            "family": family, "hard": items[idx[0]].hard, "n": len(idx),
            **{f"share_{t}": sum(served[k] == t for k in idx) / len(idx) for t in (*LOWER, "cloud")},
            "right": float(np.mean([items[k].quality[served[k]] for k in idx])),
            "cloud_only": float(np.mean([items[k].quality["cloud"] for k in idx])),
            "oracle_below_cloud": sum(best[k] != "cloud" for k in idx) / len(idx),
        })  # fmt: skip
    return rows
