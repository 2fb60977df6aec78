"""Profiling: per-layer compute time of the engine on this node, for the split planner.

Times are medians over repeats, in milliseconds, for a prefill of ``prompt_tokens`` tokens and
for one decode step after it (the two phases a generation has). ``full_*`` are the times of the
runtime that serves whole-model routes on this node (llama.cpp), measured separately.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable

import torch
from pydantic import BaseModel

from edgesplit.engine.model import KVCache, Transformer, new_caches

__all__ = ["NodeProfile", "profile_engine", "profile_llamacpp", "profile_node"]


class NodeProfile(BaseModel):
    """What one node measured about itself."""

    model: str
    n_layers: int
    dim: int
    prompt_tokens: int
    embed_ms: float
    layer_prefill_ms: list[float]  # per layer, for the whole prompt
    layer_decode_ms: list[float]  # per layer, one token
    head_prefill_ms: float
    head_decode_ms: float
    full_prefill_ms: float | None = None  # whole model on the serving runtime (llama.cpp), whole prompt
    full_decode_ms: float | None = None  # per token


def _timed(fn: Callable[[], object], repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


@torch.inference_mode()
def profile_engine(model_name: str, model: Transformer, prompt_tokens: int = 64, repeats: int = 5) -> NodeProfile:
    """Time embedding, every layer and the head, for a prefill and one decode step."""
    config = model.config
    tokens = torch.randint(0, config.vocab_size, (prompt_tokens,))
    prefill_pos, decode_pos = torch.arange(prompt_tokens), torch.tensor([prompt_tokens])
    embed_ms = _timed(lambda: model.embed(tokens), repeats)
    h = model.embed(tokens)
    one = model.embed(tokens[:1])
    layer_prefill: list[float] = []
    layer_decode: list[float] = []
    for i in range(config.n_layers):
        layer = range(i, i + 1)
        caches = new_caches(config, layer, prompt_tokens + 8)

        def prefill(layer: range = layer, caches: dict[int, KVCache] = caches) -> object:
            return model.forward_layers(h, layer, prefill_pos, caches)

        def decode(layer: range = layer, caches: dict[int, KVCache] = caches) -> object:
            return model.forward_layers(one, layer, decode_pos, caches)

        layer_prefill.append(_timed(prefill, repeats))
        layer_decode.append(_timed(decode, repeats))
    return NodeProfile(
        model=model_name,
        n_layers=config.n_layers,
        dim=config.dim,
        prompt_tokens=prompt_tokens,
        embed_ms=embed_ms,
        layer_prefill_ms=layer_prefill,
        layer_decode_ms=layer_decode,
        head_prefill_ms=_timed(lambda: model.logits(h[:, -1:]), repeats),
        head_decode_ms=_timed(lambda: model.logits(one), repeats),
    )


def profile_llamacpp(
    path: str, prompt_tokens: int = 64, decode_tokens: int = 16, n_threads: int = 2
) -> tuple[float, float]:
    """(prefill ms for ``prompt_tokens``, ms per decoded token) of the whole model on llama.cpp."""
    from edgesplit.llama.runtime import open_llama

    llm = open_llama(path, max(512, prompt_tokens + decode_tokens + 8), n_threads)
    tokens = [int(t) for t in torch.randint(100, llm.n_vocab() - 100, (prompt_tokens,))]
    prefills, decodes = [], []
    for _ in range(3):
        llm.reset()  # type: ignore[no-untyped-call]
        start = time.perf_counter()
        llm.eval(tokens)
        prefills.append((time.perf_counter() - start) * 1000)
        start = time.perf_counter()
        for i in range(decode_tokens):
            llm.eval([tokens[i]])
        decodes.append((time.perf_counter() - start) * 1000 / decode_tokens)
    llm.close()
    return statistics.median(prefills), statistics.median(decodes)


def profile_node(model_name: str, model: Transformer, gguf_path: str, prompt_tokens: int = 64) -> NodeProfile:
    """The engine's per-layer times plus the serving runtime's whole-model times, on this node."""
    profile = profile_engine(model_name, model, prompt_tokens)
    prefill, decode = profile_llamacpp(gguf_path, prompt_tokens)
    return profile.model_copy(update={"full_prefill_ms": prefill, "full_decode_ms": decode})
