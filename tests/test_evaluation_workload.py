"""The edge-workload set: the committed file is what the seed makes, its mix is the declared one,
and every item's own expected answer passes its rule while a wrong one fails."""

from __future__ import annotations

import inspect
import json
from collections import Counter

import pytest

import workload_solutions
from edgesplit.evaluation.datasets import load_set
from edgesplit.evaluation.rules import check_answer
from edgesplit.evaluation.workload import HARD_SHARE, SET_NAME, WorkloadItem, committed_path, generate, load
from edgesplit.evaluation.workload_code import HARD_PROBLEMS, ROUTINE_PROBLEMS, CodeProblem
from edgesplit.evaluation.workload_families import FAMILIES, TRIAGE_LABELS


def test_the_committed_set_is_what_the_seed_generates() -> None:
    assert load(committed_path()) == generate()


def test_the_set_holds_the_declared_mix_and_no_prompt_twice() -> None:
    items = generate()
    assert len({i.prompt for i in items}) == len(items)
    assert sum(i.hard for i in items) / len(items) == pytest.approx(HARD_SHARE)
    assert Counter(i.family for i in items) == {name: count for name, (_, count, _) in FAMILIES.items()}
    assert {i.hard for i in items if i.family in ("multistep", "extraction_hard", "code_hard", "knowledge")} == {True}


def test_another_seed_makes_other_items() -> None:
    assert [i.prompt for i in generate(1)] != [i.prompt for i in generate()]


def _right_answer(item: WorkloadItem) -> str:
    """A correct reply in the form a model would write it."""
    if item.check == "contains":
        return f"The answer is {item.expected[0]}."
    if item.check == "label":
        return str(item.expected).capitalize()
    if item.check == "number":
        return f"Working it out step by step gives {item.expected:,.2f}"
    if item.check == "json":
        return "```json\n" + json.dumps(item.expected) + "\n```"
    raise AssertionError(item.check)


def _wrong_answer(item: WorkloadItem) -> str:
    if item.check == "contains":
        return "I do not know."
    if item.check == "label":
        labels = ("OK", "ALARM") if item.family == "readings" else TRIAGE_LABELS
        return next(label for label in labels if label.lower() != str(item.expected).lower())
    if item.check == "number":
        return f"About {item.expected * 1.5 + 1:.2f}"
    if isinstance(item.expected, dict):
        return json.dumps({**item.expected, "technicians": 99})
    return json.dumps([*item.expected[:-1], {"asset": "X-000", "due": "2030-01-01", "priority": "high"}])


@pytest.mark.parametrize("item", [i for i in generate() if i.check != "code"], ids=lambda i: i.id)
def test_every_item_is_passed_by_its_answer_and_failed_by_a_wrong_one(item: WorkloadItem) -> None:
    assert check_answer(item.check, item.expected, _right_answer(item), item.tolerance)[0]
    assert not check_answer(item.check, item.expected, _wrong_answer(item), item.tolerance)[0]


@pytest.mark.parametrize("problem", ROUTINE_PROBLEMS + HARD_PROBLEMS, ids=lambda p: p.name)
def test_every_code_problem_is_solvable_and_its_tests_fail_a_stub(problem: CodeProblem) -> None:
    expected = {"entry_point": problem.name, "tests": problem.tests}
    solution = getattr(workload_solutions, problem.name)
    source = inspect.getsource(inspect.getmodule(solution))  # the module's imports and helpers come along
    assert check_answer("code", expected, f"```python\n{source}\n```") == (True, "passed")
    stub = f"```python\n{problem.signature}\n    return None\n```"
    assert not check_answer("code", expected, stub)[0]


def test_edgework_loads_as_an_eval_set_labelled_by_rules() -> None:
    items = load_set(SET_NAME)
    assert len(items) == len(generate())
    assert {i.label_kind for i in items} == {"rule"}
    assert {i.split for i in items} == {"calib", "heldout"}
    assert all(i.rule is not None and i.category for i in items)


def test_the_held_out_sample_takes_no_calibration_item() -> None:
    from edgesplit.evaluation.datasets import heldout_sample, split_of

    sample = heldout_sample(2)
    assert Counter(i.family for i in sample) == {family: 2 for family in FAMILIES}
    assert all(split_of(f"{SET_NAME}/{i.id}") == "heldout" for i in sample)
