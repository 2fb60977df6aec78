"""Answer-level signals of a cascade: what a tier can read about its own answer before keeping it.

Four groups, each cheap next to the generation it judges except where said:

- ``tokens``: the answer's per-token log-probabilities as quantiles, minimum, spread and
  share of unlikely tokens, not only the mean (Gupta et al. 2024, "Language Model Cascades:
  Token-Level Uncertainty and Beyond": the mean hides the one token a wrong answer hinges on);
- ``tasks``: checks of the answer against what the prompt asked for: a number when it asks for
  one, JSON with the keys it names, one of the labels it lists, code that parses and passes the
  examples in its own docstring (run in a limited subprocess);
- ``consistency``: agreement of the greedy answer with a second, sampled one (AutoMix-style);
  it costs a second generation;
- ``upstream``: the answer's tokens as the next tier's model scores them, one prefill there.

Prompt cues (``routing/scorer.py``) join them. A check model (``routing/answer_check.py``) maps
the vector to P(this tier's answer is acceptable).
"""

from __future__ import annotations

import ast
import difflib
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from edgesplit.routing.scorer import CUE_NAMES, prompt_cues

__all__ = ["SIGNAL_GROUPS", "AnswerView", "Floats", "first_json", "signal_names", "signal_vector", "task_checks"]

Floats = Sequence[float] | np.ndarray

_QUANTILES = (0.05, 0.1, 0.25, 0.5)
TOKEN_NAMES = ("lp_mean", "lp_min", *(f"lp_q{int(q * 100):02d}" for q in _QUANTILES), "lp_std",
               "lp_below_2", "lp_first8", "log_answer_tokens")  # fmt: skip
TASK_NAMES = ("asks_number", "has_number", "asks_json", "json_ok", "asks_label", "label_ok", "asks_code", "code_ok")
CONSISTENCY_NAMES = ("sample_agrees", "sample_similarity")
UPSTREAM_NAMES = ("up_mean", "up_min", "up_q10", "up_minus_own")
SIGNAL_GROUPS: dict[str, tuple[str, ...]] = {
    "cues": CUE_NAMES,
    "tokens": TOKEN_NAMES,
    "tasks": TASK_NAMES,
    "consistency": CONSISTENCY_NAMES,
    "upstream": UPSTREAM_NAMES,
}

_ASKS_NUMBER = re.compile(r"\bend your reply with the number\b|\bhow many\b|\bwhat is the (?:total|cost)\b", re.I)
_ASKS_JSON = re.compile(r"\bjson\b", re.I)
_LABEL_LIST = re.compile(r"\bone of:?\s+([a-z ,]+?)(?:\.|$)", re.I | re.M)
_ASKS_CODE = re.compile(r"```python|\bpython function\b", re.I)
_NUMBER = re.compile(r"\d")
_QUOTED_KEY = re.compile(r'"(\w+)"')


@dataclass(frozen=True)
class AnswerView:
    """One tier's answer and what was read about it."""

    prompt: str  # the user's text
    prompt_tokens: int
    answer: str
    logprobs: Floats  # the answer's tokens, as generated
    sample: str | None = None  # a second, sampled answer
    upstream_logprobs: Floats | None = None  # the answer's tokens under the next tier's model


def _token_stats(logprobs: Floats) -> list[float]:
    lp = np.asarray(logprobs, dtype=np.float64)
    if lp.size == 0:
        return [-10.0, -10.0, *([-10.0] * len(_QUANTILES)), 0.0, 1.0, -10.0, 0.0]
    return [float(lp.mean()), float(lp.min()), *(float(np.quantile(lp, q)) for q in _QUANTILES), float(lp.std()),
            float((lp < -2).mean()), float(lp[:8].mean()), float(np.log1p(lp.size))]  # fmt: skip


def first_json(text: str) -> Any:
    """The first JSON object or array in ``text`` (inside a code fence or not); raises ValueError."""
    decoder = json.JSONDecoder()
    for match in re.finditer(r"[\[{]", text):
        try:
            return decoder.raw_decode(text, match.start())[0]
        except json.JSONDecodeError:
            continue
    raise ValueError("no JSON value in the answer")


def _json_ok(prompt: str, answer: str) -> float:
    """JSON that parses and holds every key the prompt names in quotes."""
    try:
        value = first_json(answer)
    except ValueError:
        return 0.0
    keys = set(_QUOTED_KEY.findall(prompt))
    objects = value if isinstance(value, list) else [value]
    dicts = [o for o in objects if isinstance(o, dict)]
    if len(dicts) != len(objects):
        return 0.0
    return float(all(keys <= set(o) for o in dicts)) if keys else 1.0


def _labels(prompt: str) -> list[str]:
    match = _LABEL_LIST.search(prompt)
    return [w.strip().lower() for w in match.group(1).replace(" or ", ",").split(",") if w.strip()] if match else []


def _label_ok(labels: list[str], answer: str) -> float:
    named = {label for label in labels if re.search(rf"\b{re.escape(label)}\b", answer, re.I)}
    return float(len(named) == 1)


def _code_ok(prompt: str, answer: str, run_examples: bool) -> float:
    """The answer's code parses; with ``run_examples``, it also passes its prompt's ``>>>`` examples."""
    from edgesplit.evaluation.execution import extract_code, run_program

    code = extract_code(answer)
    try:
        ast.parse(code)
    except SyntaxError:
        return 0.0
    examples = re.findall(r">>> (.+)\n\s*(.+)", prompt)
    if not run_examples or not examples:
        return 1.0
    asserts = "\n".join(f"assert ({call}) == ({result.strip()})" for call, result in examples)
    return float(run_program(f"{code}\n\n{asserts}\n", timeout_s=5.0).passed)


def task_checks(prompt: str, answer: str, run_examples: bool = True) -> list[float]:
    """The ``tasks`` group: for each kind of request, whether it was asked and whether the answer holds."""
    asks_number = bool(_ASKS_NUMBER.search(prompt))
    asks_json = bool(_ASKS_JSON.search(prompt))
    labels = [] if asks_json else _labels(prompt)
    asks_code = bool(_ASKS_CODE.search(prompt))
    return [
        float(asks_number), float(asks_number and bool(_NUMBER.search(answer))),
        float(asks_json), _json_ok(prompt, answer) if asks_json else 0.0,
        float(bool(labels)), _label_ok(labels, answer) if labels else 0.0,
        float(asks_code), _code_ok(prompt, answer, run_examples) if asks_code else 0.0,
    ]  # fmt: skip


def _normalised(text: str) -> str:
    """Lower case, words and numbers only (a decimal point stays inside its number)."""
    return " ".join(re.sub(r"(?<!\d)\.|\.(?!\d)|[^\w.]+", " ", text.lower()).split())


def _consistency(answer: str, sample: str | None) -> list[float]:
    if sample is None:
        return [0.0, 0.0]
    a, b = _normalised(answer), _normalised(sample)
    return [float(a == b), difflib.SequenceMatcher(None, a[:2000], b[:2000]).ratio()]


def _upstream(logprobs: Floats, upstream: Floats | None) -> list[float]:
    if upstream is None or len(upstream) == 0:
        return [-10.0, -10.0, -10.0, 0.0]
    up = np.asarray(upstream, dtype=np.float64)
    own = float(np.mean(logprobs)) if len(logprobs) else -10.0
    return [float(up.mean()), float(up.min()), float(np.quantile(up, 0.1)), float(up.mean()) - own]


def signal_names(groups: Sequence[str]) -> list[str]:
    return [name for group in groups for name in SIGNAL_GROUPS[group]]


def signal_vector(view: AnswerView, groups: Sequence[str], run_examples: bool = True) -> np.ndarray:
    """The features of ``groups`` (in :data:`SIGNAL_GROUPS` order within each) for one answer."""
    parts: dict[str, list[float]] = {}
    if "cues" in groups:
        parts["cues"] = list(prompt_cues(view.prompt, view.prompt_tokens))
    if "tokens" in groups:
        parts["tokens"] = _token_stats(view.logprobs)
    if "tasks" in groups:
        parts["tasks"] = task_checks(view.prompt, view.answer, run_examples)
    if "consistency" in groups:
        parts["consistency"] = _consistency(view.answer, view.sample)
    if "upstream" in groups:
        parts["upstream"] = _upstream(view.logprobs, view.upstream_logprobs)
    return np.asarray([v for group in groups for v in parts[group]], dtype=np.float64)
