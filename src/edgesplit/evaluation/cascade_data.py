"""The cascade's view of the eval store: each item's answers at every tier, their labels and signals.

An item counts when it is labelled at all three tiers and both lower tiers have signals
(``harness.answer_signals``). Each lower tier's signal vector is computed once with every
group; a feature set is a choice of columns.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from edgesplit.evaluation.results import EvalResults
from edgesplit.evaluation.workload_families import FAMILIES
from edgesplit.routing.answer_signals import SIGNAL_GROUPS, AnswerView, signal_vector

__all__ = ["ALL_GROUPS", "LOWER", "CascadeItem", "cascade_items", "columns"]

LOWER = ("edge", "local")  # the tiers that may keep a request, lowest first
ALL_GROUPS = tuple(SIGNAL_GROUPS)


@dataclass(frozen=True)
class CascadeItem:
    key: str
    family: str
    hard: bool
    split: str
    quality: dict[str, float]  # tier -> 0..1 (edge, local, cloud)
    ms: dict[str, float]  # tier -> its greedy answer's generation time
    sample_ms: dict[str, float]  # lower tier -> the self-consistency sample's time
    next_ms: dict[str, float]  # lower tier -> the next tier's scoring time
    signals: dict[str, np.ndarray] = field(repr=False)  # lower tier -> every group's signals
    check_ms: dict[str, float] = field(default_factory=dict)  # lower tier -> tokens + tasks groups' time

    def acceptable(self, tier: str) -> bool:
        return self.quality[tier] >= 1.0


def columns(groups: Sequence[str]) -> np.ndarray:
    """Indices of ``groups``' signals inside a vector of :data:`ALL_GROUPS`."""
    out: list[int] = []
    start = 0
    for group in ALL_GROUPS:
        width = len(SIGNAL_GROUPS[group])
        if group in groups:
            out.extend(range(start, start + width))
        start += width
    return np.asarray(out, dtype=int)


_OWN = ("tokens", "tasks")  # the groups a tier computes itself, timed as the check's cost


def _measured(view: AnswerView) -> tuple[np.ndarray, float]:
    """Every group's signals (in :data:`ALL_GROUPS` order), and the time of the tier's own groups."""
    started = time.perf_counter()
    own = signal_vector(view, _OWN)
    own_ms = (time.perf_counter() - started) * 1000
    before, after = ALL_GROUPS[: ALL_GROUPS.index(_OWN[0])], ALL_GROUPS[ALL_GROUPS.index(_OWN[-1]) + 1 :]
    return np.concatenate([signal_vector(view, before), own, signal_vector(view, after)]), own_ms


def cascade_items(results: EvalResults, sets: Sequence[str] = ("edgework",)) -> list[CascadeItem]:
    """Items of ``sets`` with labels at every tier and signals at both lower tiers, in key order."""
    by_tier = {tier: {r.key: r for r in results.records(sets, tier=tier)} for tier in LOWER}
    out = []
    for key, record in sorted(by_tier["edge"].items()):
        local = by_tier["local"].get(key)
        stored = {tier: results.signals(key, tier) for tier in LOWER}
        if local is None or any(s is None for s in stored.values()):
            continue
        signals, check_ms = {}, {}
        for tier, rec in (("edge", record), ("local", local)):
            s = stored[tier]
            assert s is not None
            view = AnswerView(rec.prompt, rec.edge.prompt_tokens, rec.edge.text, s.logprobs, s.sample, s.next_logprobs)
            signals[tier], check_ms[tier] = _measured(view)
        quality = {"edge": record.edge_quality, "local": local.edge_quality, "cloud": record.cloud_quality}
        ms = {"edge": record.edge.ms, "local": local.edge.ms, "cloud": record.cloud.ms}
        hard = FAMILIES[record.category][2] if record.category in FAMILIES else False
        out.append(CascadeItem(
            key, record.category, hard, record.split, quality, ms,
            {t: stored[t].sample_ms for t in LOWER}, {t: stored[t].next_ms for t in LOWER},  # type: ignore[union-attr]
            signals, check_ms,
        ))  # fmt: skip
    return out
