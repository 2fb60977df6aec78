"""Rule checks of the edge-workload set: each rule's edge cases."""

from __future__ import annotations

import pytest

from edgesplit.evaluation.rules import check_answer, first_json, last_number


@pytest.mark.parametrize(
    ("text", "number"),
    [("86 days", 86.0), ("from 12 to 1,535.04", 1535.04), ("-3.5 kPa", -3.5), ("no digits", None), ("v2.", 2.0)],
)
def test_last_number(text: str, number: float | None) -> None:
    assert last_number(text) == number


def test_a_number_is_right_within_its_relative_tolerance_only() -> None:
    assert check_answer("number", 100.0, "about 100.9", 0.01)[0]
    assert not check_answer("number", 100.0, "about 101.5", 0.01)[0]
    assert not check_answer("number", 100.0, "100 then 7", 0.01)[0]  # the last number counts


def test_contains_needs_a_whole_word_and_short_symbols_their_case() -> None:
    assert check_answer("contains", ["502"], "Port 502.")[0]
    assert not check_answer("contains", ["502"], "Port 5020.")[0]
    assert check_answer("contains", ["Cu"], "Its symbol is Cu")[0]
    assert not check_answer("contains", ["Cu"], "a cu of tea")[0]
    assert check_answer("contains", ["pascal"], "The PASCAL.")[0]
    assert not check_answer("contains", ["61131-3"], "61131-30")[0]


def test_a_label_is_the_first_one_named() -> None:
    assert check_answer("label", "hydraulic", "Hydraulic (not mechanical)")[0]
    assert not check_answer("label", "hydraulic", "mechanical, maybe hydraulic")[0]
    assert check_answer("label", "hydraulic", "it is unclear") == (False, "names no label")
    assert not check_answer("label", "OK", "ALARM")[0]


def test_json_is_found_in_prose_or_a_fence_and_compared_by_value() -> None:
    assert first_json('Here: {"a": [1, 2]} done') == {"a": [1, 2]}
    assert check_answer("json", {"a": "X", "n": 2}, '```json\n{"n": 2.0, "a": " x "}\n```')[0]
    assert not check_answer("json", {"a": "X"}, '{"a": "X", "extra": 1}')[0]
    assert not check_answer("json", [{"a": 1}, {"a": 2}], '[{"a": 2}, {"a": 1}]')[0]  # order matters
    assert check_answer("json", {"n": 1}, '{"n": true}') == (False, "differs")
    assert check_answer("json", {"n": 1}, "no json here") == (False, "no JSON value in the answer")


def test_code_runs_its_hidden_tests_in_a_subprocess() -> None:
    expected = {"entry_point": "f", "tests": "assert f(2) == 4"}
    assert check_answer("code", expected, "```python\ndef f(x):\n    return x * 2\n```") == (True, "passed")
    forever = "```python\ndef f(x):\n    while True: pass\n```"
    assert check_answer("code", expected, forever, timeout_s=2)[1] == "timeout"


def test_an_unknown_rule_is_an_error() -> None:
    with pytest.raises(ValueError, match="unknown rule"):
        check_answer("vibes", None, "")
