"""The cascade's calibration and scoring, on hand-made items with known outcomes."""

from __future__ import annotations

import numpy as np
import pytest

from edgesplit.evaluation.cascade import calibrate, family_table, oracle, serve
from edgesplit.evaluation.cascade_data import ALL_GROUPS, CascadeItem, columns
from edgesplit.evaluation.replay import auroc
from edgesplit.routing.answer_signals import signal_names


def _item(k: int, edge: float, local: float, cloud: float, family: str = "facts") -> CascadeItem:
    zeros = np.zeros(len(signal_names(ALL_GROUPS)))
    return CascadeItem(f"edgework/{family}-{k}", family, family == "knowledge", "calib",
                       {"edge": edge, "local": local, "cloud": cloud}, {"edge": 100.0, "local": 200.0, "cloud": 400.0},
                       {"edge": 90.0, "local": 150.0}, {"edge": 20.0, "local": 30.0}, {"edge": zeros, "local": zeros},
                       {"edge": 1.0, "local": 1.0})  # fmt: skip


def test_auroc_counts_ties_half_and_needs_both_classes() -> None:
    assert auroc([0.9, 0.8, 0.1], [True, True, False]) == 1.0
    assert auroc([0.1, 0.8, 0.9], [True, True, False]) == 0.0
    assert auroc([0.5, 0.5], [True, False]) == 0.5
    assert np.isnan(auroc([0.5, 0.6], [True, True]))


def test_the_oracle_serves_each_item_at_the_lowest_tier_as_good_as_the_cloud() -> None:
    items = [_item(0, 1, 1, 1), _item(1, 0, 1, 1), _item(2, 0, 0, 1), _item(3, 0, 0, 0)]
    assert oracle(items) == ["edge", "local", "cloud", "edge"]


def test_calibration_keeps_the_most_below_the_cloud_at_the_quality_target() -> None:
    items = [_item(0, 1, 1, 1), _item(1, 0, 1, 1), _item(2, 0, 0, 1), _item(3, 1, 1, 1)]
    perfect = {"edge": np.asarray([0.9, 0.2, 0.1, 0.8]), "local": np.asarray([0.9, 0.7, 0.3, 0.9])}
    thresholds = calibrate(items, perfect, target=1.0)
    outcome = serve(items, perfect, thresholds)
    assert outcome.served == ["edge", "local", "cloud", "edge"]
    assert outcome.below_cloud == 0.75 and outcome.quality_ratio == 1.0
    # scores that rank a wrong answer first: full quality needs the cloud for it and the items below it
    misleading = {"edge": np.asarray([0.1, 0.9, 0.2, 0.3]), "local": np.asarray([0.1, 0.2, 0.9, 0.3])}
    strict = serve(items, misleading, calibrate(items, misleading, target=1.0))
    assert strict.quality_ratio == 1.0 and strict.below_cloud < 0.75
    loose = serve(items, misleading, calibrate(items, misleading, target=0.5))
    assert loose.quality_ratio >= 0.5 and loose.below_cloud >= strict.below_cloud


def test_family_table_reports_where_each_family_went() -> None:
    items = [_item(0, 1, 1, 1), _item(1, 0, 0, 1, "knowledge"), _item(2, 0, 1, 1, "knowledge")]
    rows = {r["family"]: r for r in family_table(items, ["edge", "cloud", "edge"])}
    assert rows["facts"]["share_edge"] == 1.0 and rows["facts"]["right"] == 1.0
    assert rows["knowledge"]["hard"] and rows["knowledge"]["share_cloud"] == 0.5
    assert rows["knowledge"]["right"] == 0.5 and rows["knowledge"]["oracle_below_cloud"] == 0.5


def test_columns_pick_a_group_out_of_the_full_vector() -> None:
    names = signal_names(ALL_GROUPS)
    assert [names[i] for i in columns(("upstream",))] == signal_names(("upstream",))
    with pytest.raises(AssertionError):
        assert [names[i] for i in columns(("tokens",))] == signal_names(("tasks",))


def test_a_bootstrap_confidence_keeps_fewer_below_the_cloud_for_a_safer_quality() -> None:
    rng = np.random.default_rng(3)
    items = [
        _item(k, float(rng.random() < 0.4), float(rng.random() < 0.6), float(rng.random() < 0.8)) for k in range(60)
    ]
    noisy = {t: np.asarray([i.quality[t] * 0.5 + rng.random() * 0.5 for i in items]) for t in ("edge", "local")}
    exact = serve(items, noisy, calibrate(items, noisy, target=0.95))
    safe = serve(items, noisy, calibrate(items, noisy, target=0.95, confidence=0.9))
    assert exact.quality_ratio >= 0.95 and safe.quality_ratio >= 0.95
    assert safe.below_cloud <= exact.below_cloud
    assert safe.quality >= exact.quality


def test_the_stored_signal_vector_is_every_group_in_order() -> None:
    from edgesplit.evaluation.cascade_data import _measured
    from edgesplit.routing.answer_signals import AnswerView, signal_vector

    view = AnswerView("How many? End your reply with the number.", 9, "It is 7", [-0.2, -0.1], "7", [-0.3, -0.4])
    vector, own_ms = _measured(view)
    assert np.array_equal(vector, signal_vector(view, ALL_GROUPS)) and own_ms >= 0
