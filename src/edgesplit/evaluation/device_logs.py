"""A seeded set of long device logs with questions whose answers are in a few of their lines.

For measuring what ``compress`` saves and costs: each item is a maintenance log of a few
hundred timestamped lines (routine readings, some warnings, one fault sequence) and a question
with one objective answer (a fault code or a time), checked by string match. The set is
generated from ``SEED`` and committed (``eval/device_logs.jsonl``); a test regenerates it and
compares, so the committed file cannot drift from this code.
"""

from __future__ import annotations

import json
import random
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from pathlib import Path

__all__ = ["SEED", "DeviceLogItem", "generate", "load", "write"]

SEED = 20261202
_DEVICES = ["pump P2", "compressor C1", "conveyor K4", "chiller CH3", "boiler B1", "press H7"]
_SENSORS = [
    ("temperature", "°C", 40, 95),
    ("pressure", "bar", 1, 9),
    ("speed", "rpm", 900, 1800),
    ("load", "%", 20, 99),
]
_CODES = ["E1042", "E2041", "F-204", "ALM-331", "ERR-17", "E0917", "F-118", "ALM-402"]


@dataclass(frozen=True)
class DeviceLogItem:
    id: str
    prompt: str  # the question, then the log
    answer: str  # what a correct answer contains
    kind: str  # last-fault | first-time
    log_lines: int


def _line(at: datetime, device: str, rng: random.Random) -> str:
    name, unit, low, high = rng.choice(_SENSORS)
    value = round(rng.uniform(low, high), 1)
    return f"{at:%Y-%m-%dT%H:%M:%S} INFO {device} {name}={value} {unit} status=ok"


def _item(index: int, rng: random.Random) -> DeviceLogItem:
    device = rng.choice(_DEVICES)
    start = datetime(2026, 11, 1) + timedelta(days=rng.randrange(25), hours=rng.randrange(24))
    n = rng.randrange(160, 260)
    lines, at = [], start
    for _ in range(n):
        at += timedelta(seconds=rng.randrange(5, 90))
        lines.append(_line(at, device, rng))
    warn_code, fault_code = rng.sample(_CODES, 2)
    for position in sorted(rng.sample(range(10, n - 20), 4)):
        lines[position] = lines[position].replace("INFO", "WARN").replace("status=ok", f"status=degraded {warn_code}")
    fault_at = rng.randrange(n - 20, n - 5)
    stamp = lines[fault_at][:19]
    lines[fault_at] = f"{stamp} ERROR {device} fault {fault_code}: protective trip"
    lines[fault_at + 1] = f"{lines[fault_at + 1][:19]} INFO {device} shutdown complete"
    if index % 2 == 0:
        question = f"Which fault code made the {device} shut down? Answer with the code."
        answer, kind = fault_code, "last-fault"
    else:
        first = next(line for line in lines if warn_code in line)
        question = f"At what time (HH:MM:SS) did the {device} first report {warn_code}?"
        answer, kind = first[11:19], "first-time"
    prompt = question + "\n\n" + "\n".join(lines)
    return DeviceLogItem(f"devlog-{index:02d}", prompt, answer, kind, n)


def generate(n: int = 16, seed: int = SEED) -> list[DeviceLogItem]:
    rng = random.Random(seed)
    return [_item(i, rng) for i in range(n)]


def write(path: Path, items: list[DeviceLogItem]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(asdict(item), ensure_ascii=False) + "\n" for item in items), encoding="utf-8")


def load(path: Path) -> list[DeviceLogItem]:
    return [DeviceLogItem(**json.loads(line)) for line in path.read_text(encoding="utf-8").splitlines() if line]
