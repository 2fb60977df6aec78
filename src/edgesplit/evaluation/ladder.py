"""The ladder over the eval store: what each tier alone achieves and what an oracle would serve where.

For items labelled at every tier (``edge`` = the device, ``local``, ``cloud``):

- each tier alone: mean quality as a ratio to cloud-only;
- the oracle ladder: each item served by the lowest tier whose answer is at least as good as
  the cloud's (ties go down), so its quality is cloud-only's and its shares are the most any
  router could keep below the cloud at that quality; reported per tier and as "never reached
  the cloud";
- the oracle per hop: device vs cloud, local vs cloud (the share each hop's router could keep).

Every number is per split (calibration, held-out) and set, from labels alone: no model runs.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from edgesplit.evaluation.bench_report import write_result
from edgesplit.evaluation.results import EvalResults

__all__ = ["LADDER", "LadderItem", "ladder_items", "ladder_summary", "summarise", "write_ladder"]

LADDER = ("edge", "local", "cloud")  # store tier names, lowest first
_NAMES = {"edge": "device", "local": "local", "cloud": "cloud"}


@dataclass(frozen=True)
class LadderItem:
    key: str
    set: str
    split: str
    quality: dict[str, float]

    def oracle_tier(self) -> str:
        """The lowest tier at least as good as the cloud on this item."""
        top = self.quality["cloud"]
        return next(tier for tier in LADDER if self.quality[tier] >= top)


def ladder_items(results: EvalResults, sets: Sequence[str] | None = None) -> list[LadderItem]:
    """Items labelled at all three tiers."""
    return [
        LadderItem(key, set_name, split, quality)
        for key, (set_name, split, quality) in results.qualities(sets).items()
        if all(tier in quality for tier in LADDER)
    ]


def summarise(items: Sequence[LadderItem]) -> dict[str, Any]:
    cloud = sum(i.quality["cloud"] for i in items) or float("nan")
    served = [i.oracle_tier() for i in items]
    n = len(items)
    return {
        "n": n,
        "alone": {_NAMES[t]: sum(i.quality[t] for i in items) / cloud for t in LADDER},
        "oracle_share": {_NAMES[t]: served.count(t) / n for t in LADDER},
        "oracle_below_cloud": sum(t != "cloud" for t in served) / n,
        "oracle_per_hop": {
            "device vs cloud": sum(i.quality["edge"] >= i.quality["cloud"] for i in items) / n,
            "local vs cloud": sum(i.quality["local"] >= i.quality["cloud"] for i in items) / n,
        },
    }


def ladder_summary(items: Sequence[LadderItem]) -> dict[str, dict[str, Any]]:
    """Summaries by ``split/set`` and ``split/mix``; empty groups are left out."""
    out: dict[str, dict[str, Any]] = {}
    for split in ("calib", "heldout"):
        mine = [i for i in items if i.split == split]
        for name in sorted({i.set for i in mine}):
            out[f"{split}/{name}"] = summarise([i for i in mine if i.set == name])
        if mine:
            out[f"{split}/mix"] = summarise(mine)
    return out


def _markdown(summary: dict[str, dict[str, Any]]) -> str:
    lines = [
        "# The ladder: device (SmolLM2-135M) → local (Qwen2.5-Coder-0.5B) → cloud (Qwen2.5-Coder-1.5B)",
        "",
        "Quality of each tier alone as a ratio to cloud-only, and the oracle ladder: each item served by "
        "the lowest tier at least as good as the cloud (quality = cloud-only's by construction).",
        "",
        "| split/set | n | device alone | local alone | oracle: device | oracle: local | oracle: cloud "
        "| oracle never reaches cloud |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for group, s in summary.items():
        share = s["oracle_share"]
        lines.append(
            f"| {group} | {s['n']} | {s['alone']['device']:.2f} | {s['alone']['local']:.2f} | {share['device']:.0%} "
            f"| {share['local']:.0%} | {share['cloud']:.0%} | {s['oracle_below_cloud']:.0%} |"
        )
    return "\n".join(lines) + "\n"


def write_ladder(items: Sequence[LadderItem], out: Path) -> dict[str, dict[str, Any]]:
    """``ladder.md`` and ``ladder.json`` in ``out``; returns the summary."""
    summary = ladder_summary(items)
    out.mkdir(parents=True, exist_ok=True)
    write_result(out, "ladder", _markdown(summary), summary)
    return summary
