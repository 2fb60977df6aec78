"""The ladder's routers, one per hop, calibrated to an end-to-end quality and replayed over the eval store.

A hop is a lower tier against the top one: the device (SmolLM2-135M) or the local server
(Qwen2.5-Coder-0.5B) against the cloud (Qwen2.5-Coder-1.5B). Each hop's router predicts how
much quality its own tier loses against the cloud's answer, and keeps a request when that loss
is small. End to end, the device router decides first; what it sends up meets the local
router; the rest reaches the cloud.

Calibration, for an end-to-end target ``T`` (say 0.98 of cloud-only quality):

1. the device hop gets half the loss budget: its threshold is the lowest whose calibration
   quality, hop alone, is at least ``1 - (1 - T) / 2``;
2. the local hop gets the rest: its threshold is the lowest whose end-to-end calibration
   quality, with the device's decisions fixed, is at least ``T``.

Both thresholds are picked on cross-validated scores (``calibrate.cross_validated_scores``),
and the artifacts' scorers are fitted on every calibration item. Everything reported as
"held-out" uses only held-out items, which neither fit nor threshold saw.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace

import numpy as np

from edgesplit.errors import ConfigError
from edgesplit.evaluation.calibrate import Calibration, calibrate, outcome
from edgesplit.evaluation.ladder import LADDER
from edgesplit.evaluation.replay import Embed, auroc, edge_good, prompt_views
from edgesplit.evaluation.results import ItemRecord
from edgesplit.routing.artifact import RouterArtifact
from edgesplit.routing.scorer import FeatureKind

__all__ = ["HopRouter", "LadderCalibration", "LadderOutcome", "calibrate_ladder", "replay_ladder", "route_ladder"]

TIER_NAMES = {"edge": "device", "local": "local", "cloud": "cloud"}


@dataclass(frozen=True)
class HopRouter:
    """One hop's calibrated router and its scores on the ladder's items."""

    tier: str  # store name of the hop's lower tier: edge (the device) or local
    calibration: Calibration
    scores: dict[str, float]  # item key -> score: cross-validated on calibration items, fitted on held-out ones
    auroc_heldout: float  # at predicting "this tier at least as good as the cloud"

    @property
    def artifact(self) -> RouterArtifact:
        return self.calibration.artifact


@dataclass(frozen=True)
class LadderOutcome:
    """Routing one split's items down the ladder."""

    split: str
    items: int
    shares: dict[str, float]  # device, local, cloud
    quality: float  # relative to cloud-only on the same items
    oracle_below_cloud: float  # the oracle ladder's share never reaching the cloud (at cloud-only quality)
    cloud_tokens_ratio: float  # cloud prompt + completion tokens, as a ratio to sending everything there

    @property
    def below_cloud(self) -> float:
        return 1.0 - self.shares["cloud"]


@dataclass(frozen=True)
class LadderCalibration:
    target: float
    hops: tuple[HopRouter, HopRouter]  # device, local
    calib: LadderOutcome
    heldout: LadderOutcome


def route_ladder(
    split: str,
    hops: Mapping[str, Sequence[ItemRecord]],
    scores: Mapping[str, Mapping[str, float]],
    thresholds: Mapping[str, float],
) -> LadderOutcome:
    """Serve each item at the first hop whose score clears its threshold, else at the cloud.

    ``hops`` maps each lower tier to its records for the same items, in the same order."""
    device, local = hops["edge"], hops["local"]
    served = []
    for d, lo in zip(device, local, strict=True):
        if scores["edge"][d.key] >= thresholds["edge"]:
            served.append(("edge", d.edge_quality))
        elif scores["local"][lo.key] >= thresholds["local"]:
            served.append(("local", lo.edge_quality))
        else:
            served.append(("cloud", d.cloud_quality))
    n = len(device)
    cloud_total = sum(r.cloud_quality for r in device)
    quality = sum(q for _, q in served) / cloud_total if cloud_total > 0 else 1.0
    tokens = [r.cloud.prompt_tokens + r.cloud.completion_tokens for r in device]
    sent = sum(t for t, (tier, _) in zip(tokens, served, strict=True) if tier == "cloud")
    oracle = sum(
        d.edge_quality >= d.cloud_quality or lo.edge_quality >= lo.cloud_quality
        for d, lo in zip(device, local, strict=True)
    )
    return LadderOutcome(
        split,
        n,
        {TIER_NAMES[t]: sum(tier == t for tier, _ in served) / max(n, 1) for t in LADDER},
        quality,
        oracle / max(n, 1),
        sent / max(sum(tokens), 1),
    )


def _aligned(hops: Mapping[str, Sequence[ItemRecord]], split: str) -> dict[str, list[ItemRecord]]:
    """Each hop's records of ``split`` for the items both hops have, in one order."""
    keys = set.intersection(*({r.key for r in records if r.split == split} for records in hops.values()))
    return {tier: sorted((r for r in records if r.key in keys), key=lambda r: r.key) for tier, records in hops.items()}


def _local_threshold(
    hops: Mapping[str, Sequence[ItemRecord]], scores: Mapping[str, Mapping[str, float]], device_t: float, target: float
) -> float:
    """The lowest local threshold whose end-to-end calibration quality is at least ``target``."""
    candidates = sorted({scores["local"][r.key] for r in hops["local"]}, reverse=True)
    best = candidates[0] + 1.0 if candidates else 0.0  # nothing kept at the local tier
    for value in candidates:
        outcome = route_ladder("calib", hops, scores, {"edge": device_t, "local": value})
        if outcome.quality < target - 1e-12:
            break
        best = value
    return best


def _hop(
    tier: str,
    model: str,
    records: Sequence[ItemRecord],
    kind: FeatureKind,
    embed: Embed | None,
    min_quality: float,
    folds: int,
) -> HopRouter:
    done = calibrate(records, model, kind, min_quality=min_quality, embed=embed, folds=folds)
    calib = [r for r in records if r.split == "calib"]
    heldout = [r for r in records if r.split == "heldout"]
    scorer = done.artifact.scorer()
    scores = dict(zip((r.key for r in calib), done.calib_scores, strict=True))  # cross-validated
    held_scores = scorer.score_many(prompt_views(heldout, embed))
    scores.update(zip((r.key for r in heldout), held_scores, strict=True))
    return HopRouter(tier, done, scores, auroc(held_scores, edge_good(heldout)))


def calibrate_ladder(
    hops: Mapping[str, Sequence[ItemRecord]],
    models: Mapping[str, str],
    embeds: Mapping[str, Embed | None],
    target: float = 0.98,
    kind: FeatureKind = "embed+cues",
    folds: int = 5,
    local_kind: FeatureKind | None = None,
) -> LadderCalibration:
    """Fit and calibrate the device and local routers for ``target`` end to end (see the module doc).

    ``hops``: the store's records per lower tier (``edge``, ``local``); ``models``: the model of
    each; ``embeds``: each model's token-embedding summary (``embed+cues`` needs it); ``local_kind``:
    the local hop's features when they differ from the device's."""
    if set(hops) != {"edge", "local"}:
        raise ConfigError("the ladder needs records for the device (edge) and the local hop")
    device = _hop("edge", models["edge"], hops["edge"], kind, embeds.get("edge"), 1 - (1 - target) / 2, folds)
    calib, heldout = _aligned(hops, "calib"), _aligned(hops, "heldout")
    if len(calib["edge"]) < 10:
        raise ConfigError(f"only {len(calib['edge'])} calibration items labelled at all three tiers")
    local = _hop("local", models["local"], hops["local"], local_kind or kind, embeds.get("local"), target, folds)
    scores = {"edge": device.scores, "local": local.scores}
    device_t = device.artifact.threshold
    local_t = _local_threshold(calib, scores, device_t, target)
    local = _rethreshold(local, hops["local"], local_t)
    thresholds = {"edge": device_t, "local": local_t}
    return LadderCalibration(
        target,
        (device, local),
        route_ladder("calib", calib, scores, thresholds),
        route_ladder("heldout", heldout, scores, thresholds),
    )


def _rethreshold(hop: HopRouter, records: Sequence[ItemRecord], threshold: float) -> HopRouter:
    """``hop`` with the ladder's threshold, its hop-alone outcomes recomputed for it."""
    calib = [r for r in records if r.split == "calib"]
    heldout = [r for r in records if r.split == "heldout"]
    calib_o = outcome(calib, np.asarray([hop.scores[r.key] for r in calib]), threshold)
    heldout_o = outcome(heldout, np.asarray([hop.scores[r.key] for r in heldout]), threshold)
    summary = {
        **hop.artifact.calibration,
        "threshold_from": "the ladder: the lowest whose end-to-end calibration quality meets the target",
        "calib": vars(calib_o),
        "heldout": vars(heldout_o),
    }
    artifact = hop.artifact.rethreshold(threshold, summary)
    return replace(hop, calibration=Calibration(artifact, calib_o, heldout_o, hop.calibration.calib_scores))


def replay_ladder(
    hops: Mapping[str, Sequence[ItemRecord]],
    artifacts: Mapping[str, RouterArtifact],
    embeds: Mapping[str, Embed | None],
    split: str = "heldout",
) -> LadderOutcome:
    """Routers already fitted (say the packaged ones), each at its own threshold, over one split's items.

    Held-out items are held out for any router this project fits (the split is fixed per item), so
    this compares a new calibration with the routers a node runs today on the same items."""
    items = _aligned(hops, split)
    scores = {
        tier: dict(zip((r.key for r in items[tier]),
                       artifacts[tier].scorer().score_many(prompt_views(items[tier], embeds.get(tier))), strict=True))
        for tier in ("edge", "local")
    }  # fmt: skip
    return route_ladder(split, items, scores, {tier: artifacts[tier].threshold for tier in ("edge", "local")})
