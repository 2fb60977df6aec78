"""How likely a model finds a given answer: per-token log-probabilities in one prompt evaluation.

A cascade's upstream check: the next tier reads the lower tier's answer after the prompt and
returns the log-probability of each answer token. The prompt is evaluated as for generation
(logits at its last position only); the answer tokens go in batches with logits at every
position, so the cost is a prefill, not a generation. Runs in the backend's worker thread.

Batched evaluation rounds differently from the one-token-at-a-time decoding of generation: on
the model that wrote an answer, its scored log-probabilities differ from the generated ones by
about 0.02 nats on average (up to about 0.25 on SmolLM2 Q4_1); tests/test_local_backend.py bounds it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

__all__ = ["continuation_logprobs", "token_logprobs"]


def token_logprobs(
    logits: np.ndarray, token: int, top_k: int = 0, piece: Any = None
) -> tuple[float, list[tuple[str, float]]]:
    """log-softmax of the raw logits: the chosen token's value and the ``top_k`` best alternatives
    (named by ``piece(token_id)``). Generation and scoring read log-probabilities through this one."""
    shifted = logits - logits.max()
    log_norm = float(np.log(np.exp(shifted, dtype=np.float64).sum()))
    chosen = float(shifted[token]) - log_norm
    if top_k <= 0:
        return chosen, []
    best = np.argpartition(-shifted, top_k)[:top_k]
    best = best[np.argsort(-shifted[best])]
    return chosen, [(piece(int(i)), float(shifted[i]) - log_norm) for i in best]


def _row_logprob(llm: Any, row: int, token: int) -> float:
    return token_logprobs(np.ctypeslib.as_array(llm._ctx.get_logits_ith(row), shape=(llm.n_vocab(),)), token)[0]


def continuation_logprobs(llm: Any, prompt: Sequence[int], answer: Sequence[int]) -> list[float]:
    """log P(answer[i] | prompt, answer[:i]) for each answer token, on a llama-cpp-python ``Llama``."""
    import llama_cpp._internals as internals

    if not answer:
        return []
    llm.reset()
    llm.eval(list(prompt))  # the KV cache now holds the prompt; logits of its last position
    out = [_row_logprob(llm, -1, answer[0])]
    n_past = len(prompt)
    rest = list(answer)
    step = max(1, int(llm.n_batch))
    for start in range(0, len(rest) - 1, step):
        chunk = rest[start : min(start + step, len(rest) - 1)]  # the last answer token predicts nothing we need
        batch = internals.LlamaBatch(n_tokens=len(chunk), embd=0, n_seq_max=1)
        batch.set_batch(chunk, n_past=n_past, logits_all=True)
        llm._ctx.decode(batch)
        out += [_row_logprob(llm, i, rest[start + i + 1]) for i in range(len(chunk))]
        n_past += len(chunk)
    llm.reset()  # the next call re-evaluates from position 0 (see LocalBackend._sample_loop)
    return out
