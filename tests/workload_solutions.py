"""Reference solutions of the edge-workload code problems: proof that each problem's hidden tests can pass.

Test data, not a test module: tests/test_evaluation_workload.py sends each function's source
through the code rule as a model's answer would arrive.
"""

from __future__ import annotations

import heapq
import itertools


def c_to_f(celsius: float) -> float:
    return celsius * 9 / 5 + 32


def clamp(value: float, low: float, high: float) -> float:
    return max(low, min(value, high))


def moving_average(values: list[float], window: int) -> list[float]:
    return [sum(values[i : i + window]) / window for i in range(len(values) - window + 1)]


def count_alarms(lines: list[str]) -> int:
    return sum("ALARM" in line.split() for line in lines)


def is_leap_year(year: int) -> bool:
    return year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)


def parse_pairs(text: str) -> dict[str, str]:
    out = {}
    for part in text.split(","):
        if "=" in part:
            key, value = part.split("=", 1)
            out[key.strip()] = value.strip()
    return out


def checksum(data: bytes) -> int:
    return sum(data) % 256


def max_gap(times: list[int]) -> int:
    return max((b - a for a, b in itertools.pairwise(times)), default=0)


def merge_windows(windows: list[tuple[int, int]]) -> list[tuple[int, int]]:
    out: list[tuple[int, int]] = []
    for start, end in sorted(windows):
        if out and start <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], end))
        else:
            out.append((start, end))
    return out


def sensor_means(lines: list[str]) -> dict[str, float]:
    seen: dict[str, list[float]] = {}
    for line in lines:
        if line.startswith("#"):
            continue
        name, _, value = line.split(" ", 1)[-1].partition("=")
        try:
            seen.setdefault(name, []).append(float(value))
        except ValueError:
            continue
    return {name: round(sum(v) / len(v), 2) for name, v in seen.items()}


def rle(text: str) -> str:
    runs = ((char, len(list(group))) for char, group in itertools.groupby(text))
    return "".join((str(n) if n > 1 else "") + char for char, n in runs)


def task_order(deps: dict[str, list[str]]) -> list[str]:
    need = {task: set(before) for task, before in deps.items()}
    ready = [task for task, before in need.items() if not before]
    heapq.heapify(ready)
    out = []
    while ready:
        task = heapq.heappop(ready)
        out.append(task)
        for other, before in need.items():
            if task in before:
                before.discard(task)
                if not before:
                    heapq.heappush(ready, other)
    if len(out) != len(need):
        raise ValueError("cycle")
    return out


_NUMERALS = ((1000, "M"), (900, "CM"), (500, "D"), (400, "CD"), (100, "C"), (90, "XC"), (50, "L"), (40, "XL"),
             (10, "X"), (9, "IX"), (5, "V"), (4, "IV"), (1, "I"))  # fmt: skip


def roman(n: int) -> str:
    out = ""
    for value, numeral in _NUMERALS:
        while n >= value:
            out += numeral
            n -= value
    return out


def downtime_minutes(events: list[tuple[str, str]]) -> int:
    total, since = 0, None
    for at, state in events:
        minute = int(at[:2]) * 60 + int(at[3:])
        if state == "down" and since is None:
            since = minute
        elif state == "up" and since is not None:
            total += minute - since
            since = None
    return total + (24 * 60 - since if since is not None else 0)
