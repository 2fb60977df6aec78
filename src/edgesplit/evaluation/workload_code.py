"""Code problems of the edge-workload set: a signature, a docstring with visible examples, hidden tests.

The prompt shows the examples (a cascade's task check may run them); the label runs the hidden
tests, which also cover cases the examples do not. Routine problems are a few lines each; hard
ones need a longer function with several cases to get right.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["HARD_PROBLEMS", "ROUTINE_PROBLEMS", "CodeProblem", "code_prompt"]


@dataclass(frozen=True)
class CodeProblem:
    name: str
    signature: str  # "def name(args) -> type:"
    doc: str  # the task, then ">>> " examples with their results
    tests: str  # hidden asserts


def code_prompt(problem: CodeProblem) -> str:
    body = "\n".join(f"    {line}" if line else "" for line in problem.doc.strip().splitlines())
    return (
        "Complete the following Python function. Reply with the complete function in one ```python code block."
        f'\n\n```python\n{problem.signature}\n    """\n{body}\n    """\n```'
    )


ROUTINE_PROBLEMS = [
    CodeProblem("c_to_f", "def c_to_f(celsius: float) -> float:",
                "Convert degrees Celsius to degrees Fahrenheit.\n>>> c_to_f(100)\n212.0",
                "assert c_to_f(0) == 32\nassert abs(c_to_f(-40) + 40) < 1e-9\nassert abs(c_to_f(37.5) - 99.5) < 1e-9"),
    CodeProblem("clamp", "def clamp(value: float, low: float, high: float) -> float:",
                "Limit value to the range [low, high].\n>>> clamp(5, 0, 3)\n3",
                "assert clamp(-1, 0, 3) == 0\nassert clamp(2, 0, 3) == 2\nassert clamp(9, 0, 3) == 3"),
    CodeProblem("moving_average", "def moving_average(values: list[float], window: int) -> list[float]:",
                "The mean of every run of `window` consecutive values, in order.\n"
                ">>> moving_average([1, 2, 3, 4], 2)\n[1.5, 2.5, 3.5]",
                "assert moving_average([1, 2, 3], 3) == [2.0]\nassert moving_average([5], 1) == [5.0]\n"
                "assert moving_average([1, 2], 3) == []"),
    CodeProblem("count_alarms", "def count_alarms(lines: list[str]) -> int:",
                "Count the log lines that contain the word ALARM.\n>>> count_alarms(['ok', 'ALARM high'])\n1",
                "assert count_alarms([]) == 0\nassert count_alarms(['ALARM', 'x ALARM y', 'alarm']) == 2"),
    CodeProblem("is_leap_year", "def is_leap_year(year: int) -> bool:",
                "True when year is a Gregorian leap year.\n>>> is_leap_year(2024)\nTrue",
                "assert not is_leap_year(1900)\nassert is_leap_year(2000)\nassert not is_leap_year(2023)"),
    CodeProblem("parse_pairs", "def parse_pairs(text: str) -> dict[str, str]:",
                "Parse 'key=value' pairs separated by commas; strip spaces around keys and values.\n"
                ">>> parse_pairs('a=1, b=2')\n{'a': '1', 'b': '2'}",
                "assert parse_pairs('x = y') == {'x': 'y'}\nassert parse_pairs('') == {}\n"
                "assert parse_pairs('k=v,k2=v2') == {'k': 'v', 'k2': 'v2'}"),
    CodeProblem("checksum", "def checksum(data: bytes) -> int:",
                "The sum of all bytes modulo 256.\n>>> checksum(bytes([1, 2, 3]))\n6",
                "assert checksum(b'') == 0\nassert checksum(bytes([255, 2])) == 1"),
    CodeProblem("max_gap", "def max_gap(times: list[int]) -> int:",
                "The largest difference between consecutive timestamps (sorted ascending); 0 for fewer than two.\n"
                ">>> max_gap([1, 4, 6])\n3",
                "assert max_gap([]) == 0\nassert max_gap([5]) == 0\nassert max_gap([0, 10, 11, 30]) == 19"),
]  # fmt: skip

HARD_PROBLEMS = [
    CodeProblem("merge_windows", "def merge_windows(windows: list[tuple[int, int]]) -> list[tuple[int, int]]:",
                "Merge overlapping or touching maintenance windows (start, end), given in any order; return them\n"
                "sorted by start.\n>>> merge_windows([(5, 7), (1, 3), (2, 4)])\n[(1, 4), (5, 7)]",
                "assert merge_windows([]) == []\nassert merge_windows([(1, 2), (2, 3)]) == [(1, 3)]\n"
                "assert merge_windows([(1, 10), (2, 3), (11, 12)]) == [(1, 10), (11, 12)]\n"
                "assert merge_windows([(4, 5), (0, 1)]) == [(0, 1), (4, 5)]"),
    CodeProblem("sensor_means", "def sensor_means(lines: list[str]) -> dict[str, float]:",
                "Each line is 'TIMESTAMP SENSOR=VALUE' or a comment starting with '#'. Return the mean value\n"
                "per sensor, rounded to 2 decimals; skip comments and lines whose value is not a number.\n"
                ">>> sensor_means(['t1 temp=20', 't2 temp=22', '# note', 't3 p=1.5'])\n{'temp': 21.0, 'p': 1.5}",
                "assert sensor_means([]) == {}\nassert sensor_means(['t a=x', 't a=2']) == {'a': 2.0}\n"
                "assert sensor_means(['t a=1', 't a=2', 't a=2']) == {'a': 1.67}"),
    CodeProblem("rle", "def rle(text: str) -> str:",
                "Run-length encode: each run becomes the count then the character; a run of one is the\n"
                "character alone.\n>>> rle('aaabcc')\n'3ab2c'",
                "assert rle('') == ''\nassert rle('a') == 'a'\nassert rle('zzzzzzzzzzzz') == '12z'\n"
                "assert rle('abab') == 'abab'"),
    CodeProblem("task_order", "def task_order(deps: dict[str, list[str]]) -> list[str]:",
                "deps maps each task to the tasks that must finish before it. Return an order that respects\n"
                "them, choosing the alphabetically smallest ready task at each step; raise ValueError on a cycle.\n"
                ">>> task_order({'b': ['a'], 'a': [], 'c': ['a']})\n['a', 'b', 'c']",
                "assert task_order({}) == []\nassert task_order({'x': ['y'], 'y': []}) == ['y', 'x']\n"
                "assert task_order({'a': ['c'], 'b': [], 'c': ['b']}) == ['b', 'c', 'a']\n"
                "try:\n    task_order({'a': ['b'], 'b': ['a']})\nexcept ValueError:\n    pass\n"
                "else:\n    raise AssertionError('no ValueError on a cycle')"),
    CodeProblem("roman", "def roman(n: int) -> str:",
                "The Roman numeral of 1 <= n <= 3999.\n>>> roman(1994)\n'MCMXCIV'",
                "assert roman(4) == 'IV'\nassert roman(3999) == 'MMMCMXCIX'\nassert roman(58) == 'LVIII'"),
    CodeProblem("downtime_minutes", "def downtime_minutes(events: list[tuple[str, str]]) -> int:",
                "events are (HH:MM, 'down' or 'up') in time order within one day. Return the total minutes the\n"
                "machine was down; if it is still down at the end, count until 24:00. Repeated 'down' or 'up'\n"
                "events change nothing.\n>>> downtime_minutes([('08:00', 'down'), ('08:30', 'up')])\n30",
                "assert downtime_minutes([]) == 0\n"
                "assert downtime_minutes([('23:00', 'down')]) == 60\n"
                "assert downtime_minutes([('01:00', 'down'), ('01:10', 'down'), ('01:20', 'up'),\n"
                "                         ('02:00', 'up')]) == 20"),
]  # fmt: skip
