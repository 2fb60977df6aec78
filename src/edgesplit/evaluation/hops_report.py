"""The ladder router report: per hop and end to end, held-out items only for every curve.

Writes ``ladder_router.md``, ``ladder_router.json`` and ``ladder_router.png`` (each hop's
quality-vs-share curve for its router, random and the oracle, the chosen threshold marked).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from edgesplit.evaluation.bench_report import pyplot, write_result
from edgesplit.evaluation.hops import TIER_NAMES, HopRouter, LadderCalibration, LadderOutcome
from edgesplit.evaluation.replay import curve, oracle_scores, random_curve, share_at_quality
from edgesplit.evaluation.results import ItemRecord

__all__ = ["hop_rows", "write_ladder_report"]


def hop_rows(ladder: LadderCalibration, hops: Mapping[str, Sequence[ItemRecord]]) -> list[dict[str, Any]]:
    """Per hop, held out: share kept, quality hop alone, the oracle's share at that quality, AUROC."""
    rows = []
    for hop in ladder.hops:
        heldout = [r for r in hops[hop.tier] if r.split == "heldout"]
        o = hop.calibration.heldout
        oracle = share_at_quality(curve(heldout, oracle_scores(heldout)), o.quality)
        rows.append(
            {
                "hop": f"{TIER_NAMES[hop.tier]} vs cloud",
                "model": hop.artifact.edge_model,
                "threshold": hop.artifact.threshold,
                "calib": vars(hop.calibration.calib),
                "heldout": vars(o),
                "oracle_share_heldout": oracle,
                "auroc_heldout": hop.auroc_heldout,
            }
        )
    return rows


def _outcome_json(o: LadderOutcome) -> dict[str, Any]:
    return {**vars(o), "below_cloud": o.below_cloud}


def _markdown(ladder: LadderCalibration, rows: Sequence[dict[str, Any]]) -> str:
    lines = [
        f"# Routing down the ladder, calibrated for {ladder.target:.0%} of cloud-only quality end to end",
        "",
        "Per hop: the hop's router alone (its tier against the cloud), held-out items.",
        "",
        "| hop | model | kept at the tier | quality vs cloud-only | oracle share at that quality | AUROC |",
        "|---|---|---:|---:|---:|---:|",
    ]
    for row in rows:
        h = row["heldout"]
        lines.append(
            f"| {row['hop']} | {row['model']} | {h['edge_share']:.1%} | {h['quality']:.1%} "
            f"| {row['oracle_share_heldout']:.1%} | {row['auroc_heldout']:.2f} |"
        )
    lines += [
        "",
        "End to end: device router first, then local, the rest to the cloud.",
        "",
        "| split | items | device | local | cloud | never reach the cloud | quality vs cloud-only "
        "| oracle never reaches the cloud | ratio to oracle | cloud tokens vs cloud-only |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for o in (ladder.calib, ladder.heldout):
        ratio = o.below_cloud / o.oracle_below_cloud if o.oracle_below_cloud else float("nan")
        lines.append(
            f"| {o.split} | {o.items} | {o.shares['device']:.1%} | {o.shares['local']:.1%} | {o.shares['cloud']:.1%} "
            f"| {o.below_cloud:.1%} | {o.quality:.1%} | {o.oracle_below_cloud:.1%} | {ratio:.2f}x "
            f"| {o.cloud_tokens_ratio:.2f} |"
        )
    lines += [
        "",
        "Calibration-split figures use cross-validated scores; held-out figures use the fitted routers on items "
        "that neither fitting nor thresholds saw. The oracle ladder serves each item at the lowest tier at least "
        "as good as the cloud.",
    ]
    return "\n".join(lines) + "\n"


def _plot(ladder: LadderCalibration, hops: Mapping[str, Sequence[ItemRecord]], path: Path) -> None:
    plt = pyplot()

    fig, axes = plt.subplots(1, len(ladder.hops), figsize=(6 * len(ladder.hops), 4.2), squeeze=False)
    for ax, hop in zip(axes[0], ladder.hops, strict=True):
        _plot_hop(ax, hop, [r for r in hops[hop.tier] if r.split == "heldout"], ladder.target)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _plot_hop(ax: Any, hop: HopRouter, heldout: Sequence[ItemRecord], target: float) -> None:
    learned = curve(heldout, np.asarray([hop.scores[r.key] for r in heldout]))
    oracle = curve(heldout, oracle_scores(heldout))
    rand = random_curve(heldout)
    ax.plot(learned.shares, learned.quality, label=f"router ({hop.artifact.features})")
    ax.plot(oracle.shares, oracle.quality, "--", label="oracle")
    ax.plot(rand.shares, rand.quality, ":", label="random")
    chosen = hop.calibration.heldout
    ax.plot([chosen.edge_share], [chosen.quality], "o", color="black", label="calibrated threshold")
    ax.axhline(target, color="grey", linewidth=0.6)
    ax.set_xlabel(f"share kept at the {TIER_NAMES[hop.tier]} tier (held-out, n={len(heldout)})")
    ax.set_ylabel("quality vs cloud-only")
    ax.set_title(f"{TIER_NAMES[hop.tier]} vs cloud: {hop.artifact.edge_model}")
    ax.legend(fontsize=8)


def write_ladder_report(
    ladder: LadderCalibration, hops: Mapping[str, Sequence[ItemRecord]], out: Path
) -> dict[str, Any]:
    """The three files in ``out``; returns what the JSON holds."""
    out.mkdir(parents=True, exist_ok=True)
    rows = hop_rows(ladder, hops)
    data = {
        "target": ladder.target,
        "hops": rows,
        "calib": _outcome_json(ladder.calib),
        "heldout": _outcome_json(ladder.heldout),
    }
    _plot(ladder, hops, out / "ladder_router.png")
    write_result(out, "ladder_router", _markdown(ladder, rows), data, plots=["ladder_router.png"])
    return data
