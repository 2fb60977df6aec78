"""``edgesplit calibrate-cascade``'s report: every feature set's checks, fitted on calib, measured held out.

Writes ``cascade.md``, ``cascade.json`` and ``cascade.png`` (per-hop ROC of the chosen set).
The chosen set is the one whose cross-validated calibration ladder keeps the most below the
cloud, among those whose check costs at most ``budget`` of the tier's generation time (median
over the calibration items): the held-out split never picks anything.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from edgesplit.evaluation.bench_report import write_result
from edgesplit.evaluation.cascade import (
    FEATURE_SETS,
    HopChecks,
    calibrate,
    cv_probabilities,
    family_table,
    fit_hops,
    oracle,
    probabilities,
    serve,
)
from edgesplit.evaluation.cascade_data import LOWER, CascadeItem, columns
from edgesplit.evaluation.replay import auroc

__all__ = ["CascadeResult", "run_cascade", "write_cascade_report"]

_BASELINE = "mean log-prob (the current cascade)"
_NAMES = {"edge": "device", "local": "local", "cloud": "cloud"}


@dataclass(frozen=True)
class CascadeResult:
    name: str
    groups: tuple[str, ...]
    thresholds: tuple[float, float]
    calib_below_cloud: float  # cross-validated
    overhead: dict[str, float]  # lower tier -> median check time / generation time (calib)
    heldout: dict[str, Any]
    hops: HopChecks | None = None


def _overhead(items: Sequence[CascadeItem], groups: Sequence[str]) -> dict[str, float]:
    out = {}
    for tier in LOWER:
        extra = [i.check_ms[tier] + (i.sample_ms[tier] if "consistency" in groups else 0.0)
                 + (i.next_ms[tier] if "upstream" in groups else 0.0) for i in items]  # fmt: skip
        out[tier] = float(np.median(np.asarray(extra) / np.asarray([max(1.0, i.ms[tier]) for i in items])))
    return out


def _heldout(items: Sequence[CascadeItem], p: dict[str, np.ndarray], thresholds: tuple[float, float]) -> dict[str, Any]:
    outcome = serve(items, p, thresholds)
    best = oracle(items)
    oracle_below = sum(t != "cloud" for t in best) / len(items)
    escalated = {t: [k for k, s in enumerate(outcome.served) if LOWER.index(t) < (*LOWER, "cloud").index(s)]
                 for t in LOWER}  # fmt: skip
    return {
        "n": len(items),
        "auroc": {t: auroc(p[t], [i.acceptable(t) for i in items]) for t in LOWER},
        "below_cloud": outcome.below_cloud,
        "oracle_below_cloud": oracle_below,
        "lower_tier_right": sum(any(i.acceptable(t) for t in LOWER) for i in items) / len(items),
        "of_oracle": outcome.below_cloud / oracle_below if oracle_below else float("nan"),
        "quality_ratio": outcome.quality_ratio,
        "shares": {_NAMES[t]: outcome.served.count(t) / len(items) for t in (*LOWER, "cloud")},
        "routine_below_cloud": _share_below([s for s, i in zip(outcome.served, items, strict=True) if not i.hard]),
        "hard_solved": _mean([i.quality[s] for s, i in zip(outcome.served, items, strict=True) if i.hard]),
        "hard_solved_cloud_only": _mean([i.quality["cloud"] for i in items if i.hard]),
        "escalated_s": {_NAMES[t]: sum(items[k].ms[t] for k in escalated[t]) / 1000 for t in LOWER},
        "families": family_table(items, outcome.served),
    }


def _share_below(served: Sequence[str]) -> float:
    return 1 - served.count("cloud") / len(served) if served else float("nan")


def _mean(values: Sequence[float]) -> float:
    return float(np.mean(values)) if values else float("nan")


def _baseline(items: Sequence[CascadeItem]) -> dict[str, np.ndarray]:
    column = columns(("tokens",))[0]  # lp_mean
    return {t: np.asarray([i.signals[t][column] for i in items]) for t in LOWER}


def run_cascade(
    items: Sequence[CascadeItem], models: dict[str, str], target: float, confidence: float = 0.9
) -> list[CascadeResult]:
    """Every feature set (and the baseline), calibrated on calib and measured on held-out."""
    calib = [i for i in items if i.split == "calib"]
    held = [i for i in items if i.split == "heldout"]
    if len(calib) < 10 or not held:
        raise ValueError(f"{len(calib)} calibration and {len(held)} held-out items: run more of the eval first")
    results = []
    base_calib, base_held = _baseline(calib), _baseline(held)
    thresholds = calibrate(calib, base_calib, target, confidence)
    results.append(CascadeResult(_BASELINE, ("tokens",), thresholds, serve(calib, base_calib, thresholds).below_cloud,
                                 _overhead(calib, ("tokens",)), _heldout(held, base_held, thresholds)))  # fmt: skip
    for name, groups in FEATURE_SETS.items():
        cv = cv_probabilities(calib, groups, models)
        thresholds = calibrate(calib, cv, target, confidence)
        hops = fit_hops(calib, groups, models)
        result = _heldout(held, probabilities(hops, held), thresholds)
        result["auroc_gbm"] = _gbm_auroc(calib, held, groups)
        results.append(CascadeResult(name, groups, thresholds, serve(calib, cv, thresholds).below_cloud,
                                     _overhead(calib, groups), result, hops))  # fmt: skip
    return results


def _gbm_auroc(calib: Sequence[CascadeItem], held: Sequence[CascadeItem], groups: Sequence[str]) -> dict[str, float]:
    """Held-out AUROC of gradient boosting on the same signals (compared, not served)."""
    from sklearn.ensemble import HistGradientBoostingClassifier

    out = {}
    for tier in LOWER:
        x = np.stack([i.signals[tier][columns(groups)] for i in calib])
        y = [i.acceptable(tier) for i in calib]
        if len(set(y)) < 2:
            out[tier] = float("nan")
            continue
        model = HistGradientBoostingClassifier(max_depth=3, max_iter=100, learning_rate=0.1, random_state=0).fit(x, y)
        xh = np.stack([i.signals[tier][columns(groups)] for i in held])
        out[tier] = auroc(model.predict_proba(xh)[:, 1], [i.acceptable(tier) for i in held])
    return out


def chosen(results: Sequence[CascadeResult], budget: float) -> CascadeResult:
    """The fitted set with the best cross-validated calibration share within the time budget."""
    affordable = [r for r in results if r.hops is not None and max(r.overhead.values()) <= budget]
    pool = affordable or [r for r in results if r.hops is not None]
    return max(pool, key=lambda r: (round(r.calib_below_cloud, 3), -max(r.overhead.values())))


def _row(r: CascadeResult) -> str:
    h = r.heldout
    gbm = h.get("auroc_gbm", {})
    gbm_text = " / ".join(f"{gbm[t]:.2f}" for t in LOWER) if gbm else "-"
    return (f"| {r.name} | {h['auroc']['edge']:.2f} / {h['auroc']['local']:.2f} | {gbm_text} | {h['below_cloud']:.1%} "
            f"| {h['of_oracle']:.2f}x | {h['quality_ratio']:.1%} | {h['routine_below_cloud']:.1%} "
            f"| {h['hard_solved']:.2f} | {r.overhead['edge']:.0%} / {r.overhead['local']:.0%} "
            f"| {r.calib_below_cloud:.1%} |")  # fmt: skip


def _markdown(
    results: Sequence[CascadeResult], pick: CascadeResult, target: float, confidence: float, n: dict[str, int]
) -> str:
    h = pick.heldout
    lines = [
        "# The answer-level cascade on the edge-workload set (held out)",
        "",
        f"{n['calib']} calibration items, {n['heldout']} held-out; thresholds chosen on cross-validated calibration "
        f"scores for >= {target:.0%} of cloud-only quality end to end, held in {confidence:.0%} of bootstrap "
        "resamples of the calibration items. Oracle: each item at the lowest tier as good "
        f"as the cloud ({h['oracle_below_cloud']:.1%} below the cloud held out; it keeps an item nobody answers "
        f"right below the cloud, which no check can know). A lower tier's answer is right on "
        f'{h["lower_tier_right"]:.1%} of the held-out items: the most a check of "this answer is right" '
        "can keep below the cloud at full quality.",
        "",
        "| signals | AUROC device / local | GBM AUROC | below cloud | of oracle | quality vs cloud-only "
        "| routine below cloud | hard solved | check time / generation (median, device / local) "
        "| calib below cloud (CV) |",
        "|---|---|---|---:|---:|---:|---:|---:|---:|---:|",
        *(_row(r) for r in results),
        "",
        f"Chosen (best CV calibration share within the time budget): **{pick.name}**, thresholds "
        f"device {pick.thresholds[0]:.3f}, local {pick.thresholds[1]:.3f}. Hard families solved: "
        f"{h['hard_solved']:.2f} (cloud-only {h['hard_solved_cloud_only']:.2f}). Seconds spent on answers "
        f"that were escalated anyway: device {h['escalated_s']['device']:.1f} s, "
        f"local {h['escalated_s']['local']:.1f} s.",
        "",
        "| family | hard | n | device | local | cloud | right | cloud-only right | oracle below cloud |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for f in h["families"]:
        lines.append(f"| {f['family']} | {'yes' if f['hard'] else ''} | {f['n']} | {f['share_edge']:.0%} "
                     f"| {f['share_local']:.0%} | {f['share_cloud']:.0%} | {f['right']:.2f} | {f['cloud_only']:.2f} "
                     f"| {f['oracle_below_cloud']:.0%} |")  # fmt: skip
    return "\n".join(lines) + "\n"


def _plot(items: Sequence[CascadeItem], pick: CascadeResult, path: Path) -> None:
    from sklearn.metrics import roc_curve

    from edgesplit.evaluation.bench_report import pyplot

    plt = pyplot()
    assert pick.hops is not None
    held = [i for i in items if i.split == "heldout"]
    p = probabilities(pick.hops, held)
    fig, axes = plt.subplots(1, 2, figsize=(9, 4))
    for ax, tier in zip(axes, LOWER, strict=True):
        y = np.asarray([i.acceptable(tier) for i in held])
        fpr, tpr, _ = roc_curve(y.astype(int), p[tier])
        ax.plot(fpr, tpr, label=f"{pick.name} (AUROC {auroc(p[tier], y):.2f})")
        ax.plot([0, 1], [0, 1], color="grey", linestyle="--")
        ax.set_title(f"{_NAMES[tier]} hop: answer acceptable?")
        ax.set_xlabel("false positive rate")
        ax.set_ylabel("true positive rate")
        ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def write_cascade_report(
    items: Sequence[CascadeItem],
    results: Sequence[CascadeResult],
    target: float,
    confidence: float,
    budget: float,
    out: Path,
) -> CascadeResult:
    pick = chosen(results, budget)
    out.mkdir(parents=True, exist_ok=True)
    n = {s: sum(i.split == s for i in items) for s in ("calib", "heldout")}
    data = [{**{k: v for k, v in vars(replace(r, hops=None)).items() if k != "hops"}, "chosen": r is pick}
            for r in results]  # fmt: skip
    _plot(items, pick, out / "cascade.png")
    write_result(out, "cascade", _markdown(results, pick, target, confidence, n),
                 {"target": target, "confidence": confidence, "budget": budget, **n, "results": data},
                 plots=["cascade.png"])  # fmt: skip
    return pick
