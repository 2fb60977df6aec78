"""Plain greedy decoding with each step's top-2 logit margin: what batched verification is held to.

Batched verification checks a whole draft block in one forward pass. llama.cpp's batched
kernels round differently from the single-token ones plain decoding uses, so where the model's
two best tokens are nearly tied the batched pass may pick the other one. The contract
(``cloud/verifier.py``) is: a batched answer equals plain greedy decoding, except at a position
whose top-2 margin in plain decoding is below ``TIE_TOLERANCE``. This module gives the reference:
plain decoding's schedule (the prompt in one batch, then one token at a time), the token chosen
at each step and its margin over the runner-up.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = ["GreedyStep", "greedy_with_margins", "top2_margin"]


@dataclass(frozen=True)
class GreedyStep:
    token: int
    margin: float  # top-1 logit minus top-2 logit at this step


def top2_margin(logits: np.ndarray) -> float:
    """The best logit minus the second best."""
    second, first = np.partition(np.asarray(logits, dtype=np.float64), -2)[-2:]
    return float(first - second)


def greedy_with_margins(llm: Any, prompt: Sequence[int], max_tokens: int, is_end: Any) -> list[GreedyStep]:
    """Greedy tokens after ``prompt`` on a llama-cpp-python ``Llama`` (from an empty cache), with margins.

    Stops after ``max_tokens`` or at a token for which ``is_end(token)`` is true (included)."""
    llm.reset()
    llm.eval(list(prompt))
    steps: list[GreedyStep] = []
    n_vocab = llm.n_vocab()
    while len(steps) < max_tokens:
        logits = np.ctypeslib.as_array(llm._ctx.get_logits_ith(-1), shape=(n_vocab,))
        token = int(np.argmax(logits))
        steps.append(GreedyStep(token, top2_margin(logits)))
        if is_end(token):
            break
        llm.eval([token])
    return steps
