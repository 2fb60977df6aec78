"""Answer-level signals: token statistics, task checks, consistency and the upstream score."""

from __future__ import annotations

import numpy as np
import pytest

from edgesplit.routing.answer_signals import SIGNAL_GROUPS, AnswerView, signal_names, signal_vector, task_checks

CODE_PROMPT = (
    "Complete the following Python function.\n\n```python\ndef double(x: int) -> int:\n"
    '    """\n    >>> double(2)\n    4\n    """\n```'
)


def _named(view: AnswerView, groups: tuple[str, ...]) -> dict[str, float]:
    return dict(zip(signal_names(groups), signal_vector(view, groups), strict=True))


def test_token_statistics_see_the_one_unlikely_token_the_mean_hides() -> None:
    steady = _named(AnswerView("q", 5, "a", [-0.3] * 10), ("tokens",))
    one_bad = _named(AnswerView("q", 5, "a", [-0.05] * 9 + [-2.55]), ("tokens",))
    assert one_bad["lp_mean"] == pytest.approx(steady["lp_mean"])  # the mean cannot tell them apart
    assert one_bad["lp_min"] < -2 < steady["lp_min"]
    assert one_bad["lp_below_2"] == pytest.approx(0.1) and steady["lp_below_2"] == 0
    assert _named(AnswerView("q", 5, "", []), ("tokens",))["lp_min"] == -10.0  # an empty answer is unsure


@pytest.mark.parametrize(
    ("prompt", "answer", "asked", "holds"),
    [
        ("How many days? End your reply with the number.", "It is 12", "asks_number", 1.0),
        ("How many days? End your reply with the number.", "soon", "asks_number", 0.0),
        ('Reply with JSON with keys "asset" and "due".', '{"asset": "P-1", "due": "2026-12-01"}', "asks_json", 1.0),
        ('Reply with JSON with keys "asset" and "due".', '{"asset": "P-1"}', "asks_json", 0.0),
        ("Classify into exactly one of: electrical, mechanical, safety. Reply", "Mechanical.", "asks_label", 1.0),
        (
            "Classify into exactly one of: electrical, mechanical, safety. Reply",
            "mechanical or safety",
            "asks_label",
            0.0,
        ),
        (CODE_PROMPT, "```python\ndef double(x):\n    return 2 * x\n```", "asks_code", 1.0),
        (CODE_PROMPT, "```python\ndef double(x):\n    return x + 1\n```", "asks_code", 0.0),  # fails its own example
        (CODE_PROMPT, "```python\ndef double(x) return\n```", "asks_code", 0.0),  # does not parse
    ],
)
def test_task_checks_hold_an_answer_to_what_its_prompt_asked(
    prompt: str, answer: str, asked: str, holds: float
) -> None:
    checks = dict(zip(SIGNAL_GROUPS["tasks"], task_checks(prompt, answer), strict=True))
    assert checks[asked] == 1.0
    held = {"asks_number": "has_number", "asks_json": "json_ok", "asks_label": "label_ok", "asks_code": "code_ok"}
    assert checks[held[asked]] == holds
    assert sum(checks[name] for name in held) == 1.0  # no other kind of request is seen


def test_a_prompt_that_asks_nothing_checkable_sets_no_task() -> None:
    assert task_checks("Tell me about pumps.", "Pumps move fluids.") == [0.0] * len(SIGNAL_GROUPS["tasks"])


def test_consistency_and_upstream_signals() -> None:
    agree = _named(AnswerView("q", 3, "The code is E17.", [-0.1], "the code is e17"), ("consistency",))
    differ = _named(AnswerView("q", 3, "The code is E17.", [-0.1], "Probably F-204, not sure"), ("consistency",))
    assert agree["sample_agrees"] == 1.0 and differ["sample_agrees"] == 0.0
    assert agree["sample_similarity"] > differ["sample_similarity"]
    up = _named(AnswerView("q", 3, "a", [-0.5, -0.5], None, [-0.1, -3.0]), ("upstream",))
    assert up["up_min"] == -3.0 and up["up_minus_own"] == pytest.approx(-1.05)


def test_the_vector_follows_the_groups_asked_for() -> None:
    view = AnswerView("How many? End your reply with the number.", 9, "7", [-0.2, -0.1], "7", [-0.3])
    full = signal_vector(view, tuple(SIGNAL_GROUPS))
    assert full.shape == (len(signal_names(tuple(SIGNAL_GROUPS))),)
    assert np.array_equal(
        signal_vector(view, ("tokens",)), full[len(SIGNAL_GROUPS["cues"]) :][: len(SIGNAL_GROUPS["tokens"])]
    )
