"""The per-hop answer check: fitted on labelled signals, served with numpy, stored as checked JSON."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from edgesplit.errors import ConfigError
from edgesplit.routing.answer_check import fit_check, load_check, save_check
from edgesplit.routing.answer_signals import AnswerView, signal_names, signal_vector

GROUPS = ("tokens", "tasks")


def _views(n: int, rng: np.random.Generator) -> tuple[list[AnswerView], list[bool]]:
    """Answers to numeric questions: the right ones are sure and hold a number, the wrong ones are not."""
    views, labels = [], []
    for k in range(n):
        right = k % 2 == 0
        logprobs = rng.normal(-0.1 if right else -1.2, 0.2, size=12)
        answer = f"The answer is {k}." if right or k % 4 == 1 else "It depends."
        views.append(AnswerView("How many? End your reply with the number.", 12, answer, logprobs))
        labels.append(right)
    return views, labels


def test_a_fitted_check_ranks_right_answers_first_and_survives_a_round_trip(tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    views, labels = _views(60, rng)
    x = np.stack([signal_vector(v, GROUPS) for v in views])
    check = fit_check("smollm2", GROUPS, x, labels)
    test_views, test_labels = _views(40, rng)
    p = np.asarray([check.probability(v) for v in test_views])
    assert p[np.asarray(test_labels)].min() > p[~np.asarray(test_labels)].max()
    path = tmp_path / "check.json"
    save_check(check, path)
    loaded = load_check(path)
    assert loaded.groups == GROUPS and not loaded.needs_upstream and not loaded.needs_sample
    assert np.allclose([loaded.probability(v) for v in test_views], p)


def test_an_edited_or_foreign_check_is_refused(tmp_path: Path) -> None:
    rng = np.random.default_rng(2)
    views, labels = _views(20, rng)
    check = fit_check("m", GROUPS, np.stack([signal_vector(v, GROUPS) for v in views]), labels)
    path = tmp_path / "check.json"
    save_check(check, path)
    data = json.loads(path.read_text())
    data["threshold"] = 0.0
    path.write_text(json.dumps(data))
    with pytest.raises(ConfigError, match="checksum"):
        load_check(path)
    path.write_text("{not json")
    with pytest.raises(ConfigError, match="unreadable"):
        load_check(path)


def test_one_label_only_cannot_be_fitted() -> None:
    x = np.zeros((6, len(signal_names(GROUPS))))
    with pytest.raises(ValueError, match="same label"):
        fit_check("m", GROUPS, x, [True] * 6)
