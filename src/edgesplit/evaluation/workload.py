"""The edge-workload eval set: what devices and plant servers are asked, with objective answers.

Eleven families (``workload_families.py``), 128 routine items and 32 hard ones: the declared
traffic mix is 80% routine, 20% hard, and the set holds exactly that mix, so a plain average
over it is the mix's figure. Every item is labelled by a rule (``rules.py``): a code, a label,
a number within 1%, JSON with known values, or hidden tests, never a model judge.

The set is generated from ``SEED`` and committed (``eval/edge_workload.jsonl``); a test
regenerates it and compares, so the committed file cannot drift from this code.
"""

from __future__ import annotations

import json
import random
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from edgesplit.evaluation.workload_families import FAMILIES

__all__ = [
    "HARD_SHARE",
    "SEED",
    "SET_NAME",
    "WorkloadItem",
    "committed_path",
    "generate",
    "load",
    "write",
]

SEED = 20261207
SET_NAME = "edgework"
HARD_SHARE = 0.2  # the declared mix: 80% routine, 20% hard


@dataclass(frozen=True)
class WorkloadItem:
    id: str
    family: str
    hard: bool
    prompt: str
    check: str  # contains | label | number | json | code (rules.py)
    expected: Any
    tolerance: float = 0.0  # relative, for numbers


def generate(seed: int = SEED) -> list[WorkloadItem]:
    """Every family's items, each family from its own RNG stream (adding a family changes no other)."""
    items = []
    for family, (make, count, hard) in FAMILIES.items():
        rng = random.Random(f"{seed}/{family}")
        for index in range(count):
            prompt, check, expected, tolerance = make(rng, index)
            items.append(WorkloadItem(f"{family}-{index:02d}", family, hard, prompt, check, expected, tolerance))
    return items


def committed_path() -> Path:
    """Where the committed set lies in a checkout (the eval data folder beside ``src``)."""
    return Path(__file__).resolve().parents[3] / "eval" / "edge_workload.jsonl"


def write(path: Path, items: list[WorkloadItem]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = (json.dumps(asdict(item), ensure_ascii=False, sort_keys=True) + "\n" for item in items)
    path.write_text("".join(lines), encoding="utf-8")


def load(path: Path | None = None) -> list[WorkloadItem]:
    """The committed set (or the file at ``path``); regenerated when no checkout holds it (an installed wheel)."""
    path = path or committed_path()
    if not path.exists():
        return generate()
    return [WorkloadItem(**json.loads(line)) for line in path.read_text(encoding="utf-8").splitlines() if line]
