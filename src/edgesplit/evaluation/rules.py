"""Rule checks: whether an answer to an edge-workload item is right, without a model judge.

- ``contains``: one of the accepted strings appears as a whole word (case ignored, except for
  symbols of three characters or fewer);
- ``label``: the first of the item's label set that the answer names is the expected one;
- ``number``: the last number in the answer is within the relative tolerance;
- ``json``: the first JSON value in the answer equals the expected one (strings compared
  without case or surrounding space, numbers as floats);
- ``code``: the answer's code passes the hidden tests in a limited subprocess.
"""

from __future__ import annotations

import re
from typing import Any

from edgesplit.evaluation.execution import extract_code, run_program
from edgesplit.evaluation.workload_families import TRIAGE_LABELS
from edgesplit.routing.answer_signals import first_json

__all__ = ["RuleResult", "check_answer", "first_json", "last_number"]

RuleResult = tuple[bool, str]
_NUMBER = re.compile(r"[-+]?\d[\d,]*(?:\.\d+)?|[-+]?\.\d+")
_LABEL_SETS = (TRIAGE_LABELS, ("ok", "alarm"))


def _word(text: str, needle: str) -> bool:
    flags = 0 if len(needle) <= 3 and not needle.isdigit() else re.IGNORECASE
    return re.search(rf"(?<![\w-]){re.escape(needle)}(?![\w-])", text, flags) is not None


def last_number(text: str) -> float | None:
    """The last number written in ``text`` (thousands separators allowed), or None."""
    for match in reversed(_NUMBER.findall(text)):
        raw = match.replace(",", "")
        if re.fullmatch(r"[-+]?\d+(?:\.\d+)?|[-+]?\.\d+", raw):
            return float(raw)
    return None


def _same(expected: Any, got: Any) -> bool:
    if isinstance(expected, dict):
        same_keys = isinstance(got, dict) and set(got) == set(expected)
        return same_keys and all(_same(v, got[k]) for k, v in expected.items())
    if isinstance(expected, list):
        return isinstance(got, list) and len(got) == len(expected) and all(map(_same, expected, got))
    if isinstance(expected, str):
        return isinstance(got, str) and got.strip().lower() == expected.lower()
    if isinstance(expected, int | float):
        if isinstance(got, bool):  # JSON true is not 1
            return False
        try:
            return abs(float(got) - float(expected)) < 1e-9
        except (TypeError, ValueError):
            return False
    return bool(expected == got)


def _label(answer: str, expected: str) -> RuleResult:
    labels = next((s for s in _LABEL_SETS if expected.lower() in s), (expected.lower(),))
    found = sorted((m.start(), label) for label in labels for m in [re.search(rf"\b{label}\b", answer, re.I)] if m)
    if not found:
        return False, "names no label"
    return found[0][1] == expected.lower(), f"names {found[0][1]}"


def _code(answer: str, expected: dict[str, str], timeout_s: float) -> RuleResult:
    program = f"{extract_code(answer)}\n\n{expected['tests']}\n"
    result = run_program(program, timeout_s)
    return result.passed, result.detail


def check_answer(check: str, expected: Any, answer: str, tolerance: float = 0.0, timeout_s: float = 10.0) -> RuleResult:
    """(right, why) for one answer under the item's rule."""
    if check == "contains":
        hit = next((a for a in expected if _word(answer, a)), None)
        return hit is not None, f"contains {hit!r}" if hit else "no accepted answer"
    if check == "label":
        return _label(answer, expected)
    if check == "number":
        got = last_number(answer)
        if got is None:
            return False, "no number"
        return abs(got - expected) <= tolerance * max(abs(expected), 1e-9), f"last number {got:g}"
    if check == "json":
        try:
            value = first_json(answer)
        except ValueError as exc:
            return False, str(exc)
        return _same(expected, value), "equal" if _same(expected, value) else "differs"
    if check == "code":
        return _code(answer, expected, timeout_s)
    raise ValueError(f"unknown rule {check!r}")
