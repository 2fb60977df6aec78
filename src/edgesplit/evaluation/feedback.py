"""The feedback loop on the cloud: label what the edges found hard, refit the router, publish if better.

1. Label: every unused candidate becomes an eval item of the set ``feedback`` and is answered
   and labelled at each tier exactly as the eval sets are (its prompt has no tests, so the
   judge rates it). Feedback items are always on the calibration side: the held-out split stays
   the eval's fixed one, so the comparison below is on the same items every round.
2. Refit: the scorer is fitted and its threshold picked on everything labelled so far.
3. Compare on the fixed held-out split, against the router the edges run now (the one in the
   current bundle, else the packaged one): the candidate is published only if it keeps at least
   as much on the edge without falling below the quality floor the current one meets.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from edgesplit.evaluation.calibrate import Calibration, SplitOutcome, calibrate, outcome
from edgesplit.evaluation.datasets import EvalItem, Split
from edgesplit.evaluation.harness import EvalConfig
from edgesplit.evaluation.replay import Embed, prompt_views
from edgesplit.evaluation.results import EvalResults, ItemRecord
from edgesplit.evaluation.runner import EvalModels, run_sets
from edgesplit.routing.artifact import RouterArtifact

if TYPE_CHECKING:
    from edgesplit.schemas import Candidate

__all__ = ["FeedbackItem", "RefitResult", "compare", "feedback_items", "label_candidates", "refit"]


@dataclass(frozen=True)
class FeedbackItem(EvalItem):
    """A candidate as an eval item: judged, and never in the held-out split."""

    @property
    def split(self) -> Split:
        return "calib"


@dataclass(frozen=True)
class RefitResult:
    labelled: int  # candidates labelled this round
    calibration: Calibration  # the candidate router
    current: SplitOutcome | None  # the running router on the same held-out items
    better: bool  # publish it
    reason: str


def feedback_items(candidates: Sequence[Candidate]) -> list[EvalItem]:
    return [FeedbackItem("feedback", c.id, c.prompt, c.kind, "judge") for c in candidates]


async def label_candidates(candidates: Sequence[Candidate], db: Path, models: EvalModels, config: EvalConfig) -> int:
    """Answer and label each candidate at every tier into the results store (resumable)."""
    items = feedback_items(candidates)
    if items:
        await run_sets(items, db, models, config)
    return len(items)


def refit(
    db: Path,
    current: RouterArtifact | None,
    edge_model: str,
    min_quality: float,
    tier: str = "edge",
    folds: int = 5,
    embed: Embed | None = None,
) -> tuple[Calibration, SplitOutcome | None]:
    """The candidate router fitted on everything labelled, and the current router's held-out outcome.

    The candidate uses the current router's features (``embed`` is needed for embed+cues)."""
    results = EvalResults(db)
    try:
        records = results.records(tier=tier)
    finally:
        results.close()
    kind = current.features if current is not None else "cues"
    candidate = calibrate(records, edge_model, kind, min_quality=min_quality, embed=embed, folds=folds)
    return candidate, _heldout_outcome(current, records, embed) if current is not None else None


def _heldout_outcome(artifact: RouterArtifact, records: Sequence[ItemRecord], embed: Embed | None) -> SplitOutcome:
    heldout = [r for r in records if r.split == "heldout"]
    scores = artifact.scorer().score_many(prompt_views(heldout, embed))
    return outcome(heldout, scores, artifact.threshold)


def compare(candidate: SplitOutcome, current: SplitOutcome | None, min_quality: float) -> tuple[bool, str]:
    """Publish the candidate only if it is not worse on the held-out split."""
    if current is None:
        return candidate.quality >= min_quality, "no router runs yet: the candidate must meet the quality floor"
    floor = min(current.quality, min_quality)
    if candidate.quality < floor - 1e-9:
        return False, f"held-out quality {candidate.quality:.1%} < {floor:.1%}"
    if candidate.edge_share < current.edge_share - 1e-9:
        return False, f"held-out edge share {candidate.edge_share:.1%} < the current {current.edge_share:.1%}"
    return True, (
        f"held-out edge share {current.edge_share:.1%} -> {candidate.edge_share:.1%} "
        f"at quality {current.quality:.1%} -> {candidate.quality:.1%}"
    )
