"""HumanEval checks run generated code in a limited child process, never in this one."""

from __future__ import annotations

import os

from edgesplit.evaluation.execution import extract_code, humaneval_program, run_program

PROBLEM = {
    "prompt": 'from typing import List\n\n\ndef total(xs: List[int]) -> int:\n    """Sum of xs."""\n',
    "test": "def check(candidate):\n    assert candidate([1, 2, 3]) == 6\n    assert candidate([]) == 0\n",
    "entry_point": "total",
}


def test_a_correct_answer_passes_and_a_wrong_one_fails() -> None:
    good = "Here you go:\n```python\ndef total(xs: List[int]) -> int:\n    return sum(xs)\n```\nDone."
    assert run_program(humaneval_program(PROBLEM, good)).passed
    bad = "```python\ndef total(xs):\n    return len(xs)\n```"
    result = run_program(humaneval_program(PROBLEM, bad))
    assert not result.passed and "AssertionError" in result.detail


def test_a_bare_body_completion_is_appended_to_the_prompt() -> None:
    assert run_program(humaneval_program(PROBLEM, "    return sum(xs)\n")).passed


def test_limits_stop_runaway_code() -> None:
    assert run_program("while True:\n    pass\n", timeout_s=1.0).detail == "timeout"
    memory = run_program("x = bytearray(4 * 1024 ** 3)\n", timeout_s=5.0)
    assert not memory.passed and "MemoryError" in memory.detail


def test_the_child_runs_apart_with_an_empty_environment(monkeypatch: object) -> None:
    program = (
        "import os, sys\n"
        f"assert os.getpid() != {os.getpid()}\n"
        "assert 'SECRET_TOKEN' not in os.environ and sys.flags.isolated\n"
        "open('leak.txt', 'w').write('x')\n"
    )
    os.environ["SECRET_TOKEN"] = "do-not-pass"
    try:
        assert run_program(program).passed
    finally:
        del os.environ["SECRET_TOKEN"]
    assert not os.path.exists("leak.txt")  # it wrote into its own temporary directory


def test_extract_code_prefers_the_longest_block() -> None:
    answer = "```\nx = 1\n```\ntext\n```python\ndef f():\n    return 2\n```"
    assert extract_code(answer).startswith("def f()")
    assert extract_code("no fences at all") == "no fences at all"
