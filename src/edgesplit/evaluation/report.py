"""The router report: quality-vs-edge-share per eval set and on the mix, held-out items only.

Learned scorers are fit on the calibration split of the whole mix (one router serves all
traffic) and evaluated on the held-out split. Outputs ``report.md`` (tables), ``router.png``
(curves) and ``report.json`` (every number) in the chosen directory.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from edgesplit.errors import ConfigError
from edgesplit.evaluation.bench_report import pyplot, write_result
from edgesplit.evaluation.replay import (
    Curve,
    Embed,
    PolicyResult,
    auroc,
    cascade_scores,
    curve,
    edge_good,
    fit_on,
    oracle_scores,
    prompt_views,
    random_curve,
    share_at_quality,
)
from edgesplit.evaluation.results import ItemRecord
from edgesplit.routing.scorer import FeatureKind, LinearScorer

__all__ = ["LABEL_SOURCES", "SetReport", "build_report", "write_report"]

log = logging.getLogger(__name__)

TARGET = 0.98
LABEL_SOURCES = {
    "tests": "objective: the code passes HumanEval's unit tests (subprocess, timeout, rlimits)",
    "judge-reference": "model-judged: the cloud model grades with MT-Bench's single-math-v1 prompt and the GPT-4 "
    "reference answer; quality = expected rating / 10",
    "judge": "model-judged: the cloud model grades each tier's answer on its own with MT-Bench's single-v1 "
    "prompt; quality = expected rating / 10",
}
LEARNED: dict[str, FeatureKind] = {
    "learned (hidden + cues)": "hidden+cues",
    "learned (embeddings + cues)": "embed+cues",
    "learned (cues only)": "cues",
}


@dataclass(frozen=True)
class SetReport:
    name: str
    n_calib: int
    n_heldout: int
    edge_quality: float  # absolute, held-out
    cloud_quality: float
    policies: list[PolicyResult]

    def policy(self, name: str) -> PolicyResult:
        return next(p for p in self.policies if p.name == name)


def _policies(
    heldout: Sequence[ItemRecord], scorers: dict[str, LinearScorer], embed: Embed | None
) -> list[PolicyResult]:
    good = edge_good(heldout)
    scored: dict[str, np.ndarray] = {
        "cascade (whole answer)": cascade_scores(heldout),
        "cascade (first 8 tokens)": cascade_scores(heldout, probe=True),
    }
    views = prompt_views(heldout, embed)
    for name, scorer in scorers.items():
        scored[name] = scorer.score_many(views)
    curves = {name: (curve(heldout, s), auroc(s, good)) for name, s in scored.items()}
    curves["oracle"] = (curve(heldout, oracle_scores(heldout)), math.nan)
    curves["random"] = (random_curve(heldout), math.nan)
    return [PolicyResult(name, c, share_at_quality(c, TARGET), auc) for name, (c, auc) in curves.items()]


def build_report(
    records: Sequence[ItemRecord], embed: Embed | None = None
) -> tuple[list[SetReport], dict[str, LinearScorer]]:
    """Fit the learned scorers on the mix's calibration items; replay every policy on held-out items.

    Without ``embed`` (no edge model file to read token embeddings from) that scorer is left out.
    """
    calib = [r for r in records if r.split == "calib"]
    kinds = {name: kind for name, kind in LEARNED.items() if kind != "embed+cues" or embed is not None}
    scorers = {}
    for name, kind in kinds.items():
        try:
            scorers[name] = fit_on(calib, kind, embed)
        except ValueError as exc:  # e.g. a quick run whose calibration items are all one class
            log.warning("%s left out of the report: %s", name, exc)
    groups: dict[str, list[ItemRecord]] = {}
    for record in records:
        groups.setdefault(record.set, []).append(record)
    if len(groups) > 1:
        groups["mix"] = list(records)
    reports = []
    for name, group in groups.items():
        heldout = [r for r in group if r.split == "heldout"]
        if not heldout:
            continue
        reports.append(
            SetReport(
                name,
                sum(r.split == "calib" for r in group),
                len(heldout),
                float(np.mean([r.edge_quality for r in heldout])),
                float(np.mean([r.cloud_quality for r in heldout])),
                _policies(heldout, scorers, embed),
            )
        )
    return reports, scorers


def _quality_at(result: Curve, share: float) -> float:
    return float(np.interp(share, result.shares, result.quality))


def _markdown(reports: Sequence[SetReport], records: Sequence[ItemRecord], timings: dict[str, float]) -> str:
    lines = ["# Router report (held-out items only)", ""]
    kinds = sorted({r.label_kind for r in records})
    lines += ["Labels:", *[f"- `{k}`: {LABEL_SOURCES.get(k, k)}" for k in kinds], ""]
    lines += [
        f"Headline: edge share at >= {TARGET:.0%} of cloud-only quality; 'vs oracle' is that share over the "
        "oracle's. AUROC: the score predicting 'edge answer at least as good as the cloud's'.",
        "",
    ]
    for report in reports:
        oracle_share = report.policy("oracle").share_at_target
        lines += [
            f"## {report.name}: {report.n_heldout} held-out ({report.n_calib} calibration) items",
            "",
            f"Quality, all on the edge: {report.edge_quality:.3f}; all in the cloud: {report.cloud_quality:.3f}.",
            "",
            "| policy | edge share at >=98% quality | vs oracle | AUROC | quality at 50% edge | at 80% edge |",
            "|---|---:|---:|---:|---:|---:|",
        ]
        for p in report.policies:
            ratio = p.share_at_target / oracle_share if oracle_share > 0 else math.nan
            auc = f"{p.auroc:.3f}" if not math.isnan(p.auroc) else ""
            lines.append(
                f"| {p.name} | {p.share_at_target:.1%} | {ratio:.2f}x | {auc} | "
                f"{_quality_at(p.curve, 0.5):.1%} | {_quality_at(p.curve, 0.8):.1%} |"
            )
        lines.append("")
    if timings:
        lines += ["Time spent by the run that filled the store (seconds):", ""]
        lines += [f"- {stage}: {seconds:.0f}" for stage, seconds in sorted(timings.items())]
    return "\n".join(lines) + "\n"


def _plot(reports: Sequence[SetReport], path: Path) -> None:
    plt = pyplot()

    fig, axes = plt.subplots(1, len(reports), figsize=(4.2 * len(reports), 3.8), squeeze=False)
    for ax, report in zip(axes[0], reports, strict=True):
        for p in report.policies:
            style = {"oracle": "k--", "random": "k:"}.get(p.name, "-")
            ax.plot(p.curve.shares * 100, p.curve.quality * 100, style, label=p.name, linewidth=1.4)
        ax.axhline(TARGET * 100, color="grey", linewidth=0.6)
        ax.set_title(f"{report.name} (held-out n={report.n_heldout})")
        ax.set_xlabel("edge share %")
        ax.set_ylabel("quality, % of cloud-only")
        ax.grid(alpha=0.3)
    axes[0][0].legend(fontsize=7, loc="lower left")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _json(reports: Sequence[SetReport]) -> list[dict[str, Any]]:
    return [
        {
            "set": r.name,
            "n_heldout": r.n_heldout,
            "n_calib": r.n_calib,
            "edge_quality": r.edge_quality,
            "cloud_quality": r.cloud_quality,
            "policies": {
                p.name: {"share_at_98": p.share_at_target, "auroc": None if math.isnan(p.auroc) else p.auroc}
                for p in r.policies
            },
        }
        for r in reports
    ]


def write_report(
    records: Sequence[ItemRecord], out: Path, timings: dict[str, float] | None = None, embed: Embed | None = None
) -> list[SetReport]:
    out.mkdir(parents=True, exist_ok=True)
    reports, _ = build_report(records, embed)
    if not reports:
        raise ConfigError(f"none of the {len(records)} labelled items is held out: evaluate more items (--limit)")
    _plot(reports, out / "router.png")
    write_result(out, "report", _markdown(reports, records, timings or {}), _json(reports), plots=["router.png"])
    return reports
