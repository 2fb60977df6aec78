"""What the learned router costs the edge per request, next to what the edge computes anyway.

One run, the edge model (SmolLM2-135M, llama.cpp, 2 threads) on real eval prompts (a fixed
mix of HumanEval, MT-Bench and ShareGPT first turns). Per prompt, alternating, ``--repeats``
times each:

- ``prompt evaluation``: the prompt evaluated and the first token sampled (max_tokens=1);
- ``prompt evaluation + hidden state``: the same with the gate reading the last hidden
  state (llama.cpp then outputs every prompt position) and the scorer deciding;
- ``edge generation``: a whole greedy answer of ``--max-tokens`` tokens;
- ``cascade decision``: what the confidence cascade waits for before it can decide
  (the prompt plus its first 8 tokens);
- ``token embeddings``: the mean input embedding of the prompt's tokens (the embed+cues
  scorer's feature; needs only the tokens, which the edge has before any compute);
- ``score``: the scorer's arithmetic alone (standardise + dot product) for each feature kind.

The router's overhead is the paired difference per prompt (median of the repeats) between
the second and the first row; the table gives p50/p99 over prompts, and ratios against an
edge generation. Writes bench/results/router.md and bench/results/router.png.

    .venv/bin/python bench/router.py [--prompts 30] [--repeats 5] [--max-tokens 64] [--artifact eval/router.json]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import numpy as np

from edgesplit.admission import ModelQueue
from edgesplit.evaluation.bench_report import RESULTS, pyplot, write_result
from edgesplit.evaluation.datasets import load_set
from edgesplit.generation import Finish, GenerationParams, Prompt, PromptState
from edgesplit.llama.backend import Gate, LocalBackend
from edgesplit.models import locate_model
from edgesplit.routing.artifact import load_artifact
from edgesplit.routing.embedding import TokenEmbeddings
from edgesplit.routing.scorer import CUE_NAMES, FEATURE_KINDS, LinearScorer, PromptView

OUT = RESULTS  # committed (bench/results); bench/out is scratch
EDGE = "smollm2-135m-instruct"


def _prompts(n: int) -> list[str]:
    """A fixed mix: every k-th item of each set, in equal parts."""
    sets = [load_set(name) for name in ("humaneval", "mtbench", "sharegpt")]
    per_set = -(-n // len(sets))
    chosen = [items[i * len(items) // per_set].prompt for items in sets for i in range(per_set)]
    return chosen[:n]


def _scorers(artifact: Path | None, width: int) -> dict[str, LinearScorer]:
    """One scorer per feature kind: the artifact's where it has that kind, else random weights
    (the arithmetic is the same whatever the weights are)."""
    rng = np.random.default_rng(0)
    scorers = {}
    for kind in FEATURE_KINDS:
        n = len(CUE_NAMES) + (0 if kind == "cues" else width)
        scorers[kind] = LinearScorer(kind, rng.normal(size=n), np.ones(n), rng.normal(size=n) * 0.01, 0.0)
    if artifact is not None and artifact.exists():
        loaded = load_artifact(artifact, EDGE, width).scorer()
        scorers[loaded.kind] = loaded
    return scorers


async def _timed(backend: LocalBackend, text: str, max_tokens: int, gate: Gate | None) -> float:
    params = GenerationParams(max_tokens=max_tokens, temperature=0.0)
    started = time.perf_counter()
    async for event in backend.stream(Prompt(messages=(("user", text),)), params, gate):
        if isinstance(event, Finish):
            break
    return (time.perf_counter() - started) * 1000


def _percentiles(values: list[float]) -> tuple[float, float]:
    return float(np.percentile(values, 50)), float(np.percentile(values, 99))


async def measure(prompts: list[str], repeats: int, max_tokens: int, artifact: Path | None) -> dict[str, Any]:
    backend = LocalBackend(EDGE, locate_model(EDGE), ModelQueue(EDGE, 4, 1), n_ctx=4096)
    table = TokenEmbeddings(locate_model(EDGE))
    scorers = _scorers(artifact, backend.hidden_dim)
    states: list[PromptState] = []
    texts: list[str] = []

    def gate(state: PromptState) -> bool:
        states.append(state)
        scorers["hidden+cues"].score(PromptView(texts[-1], len(state.tokens), hidden=state.hidden))
        return False  # stop after the prompt: the same work as max_tokens=1

    rows: dict[str, list[float]] = {k: [] for k in ("plain", "gated", "overhead", "generation", "cascade")}
    try:
        await _timed(backend, "warm up", 4, None)
        for text in prompts:
            texts.append(text)
            plain, gated = [], []
            for _ in range(repeats):
                plain.append(await _timed(backend, text, 1, None))
                gated.append(await _timed(backend, text, 1, gate))
            rows["plain"].append(statistics.median(plain))
            rows["gated"].append(statistics.median(gated))
            rows["overhead"].append(statistics.median(gated) - statistics.median(plain))
            rows["generation"].append(await _timed(backend, text, max_tokens, None))
            rows["cascade"].append(await _timed(backend, text, 8, None))
    finally:
        backend.close()
    score_us: dict[str, list[float]] = {"token embeddings": []}
    for name, scorer in scorers.items():
        samples = []
        for state, text in zip(states, [p for p in prompts for _ in range(repeats)], strict=True):
            started = time.perf_counter()
            embedded = table.mean(state.tokens) if scorer.needs_embedding else None
            if name == "embed+cues":
                score_us["token embeddings"].append((time.perf_counter() - started) * 1e6)
            scorer.score(PromptView(text, len(state.tokens), state.hidden if scorer.needs_hidden else None, embedded))
            samples.append((time.perf_counter() - started) * 1e6)
        score_us[name] = samples
    tokens = [len(s.tokens) for s in states[::repeats]]
    return {"rows": rows, "score_us": score_us, "prompt_tokens": tokens}


def _table(result: dict[str, Any], max_tokens: int) -> str:
    rows, score_us = result["rows"], result["score_us"]
    generation_p50 = _percentiles(rows["generation"])[0]
    lines = [
        "| what | p50 ms | p99 ms | p50 vs edge generation |",
        "|---|---:|---:|---:|",
    ]
    named = [
        ("prompt evaluation (max_tokens=1)", rows["plain"]),
        ("prompt evaluation + hidden state + score", rows["gated"]),
        ("**router overhead** (paired difference)", rows["overhead"]),
        ("cascade decision (prompt + 8 tokens)", rows["cascade"]),
        (f"edge generation ({max_tokens} tokens)", rows["generation"]),
        ("score arithmetic, hidden+cues", [us / 1000 for us in score_us["hidden+cues"]]),
        ("mean token embedding (embed+cues feature)", [us / 1000 for us in score_us["token embeddings"]]),
        ("**embed+cues: embedding + score**", [us / 1000 for us in score_us["embed+cues"]]),
        ("cues only: cues + score", [us / 1000 for us in score_us["cues"]]),
    ]
    for name, values in named:
        p50, p99 = _percentiles(values)
        lines.append(f"| {name} | {p50:.3f} | {p99:.3f} | {p50 / generation_p50:.4f}x |")
    tokens = result["prompt_tokens"]
    lines.append("")
    lines.append(f"{len(tokens)} prompts, {min(tokens)}-{max(tokens)} tokens (median {statistics.median(tokens):.0f}).")
    return "\n".join(lines)


def plot(result: dict[str, Any], path: Path) -> None:
    plt = pyplot()

    rows, tokens = result["rows"], result["prompt_tokens"]
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4))
    left.scatter(tokens, rows["plain"], s=12, label="prompt evaluation")
    left.scatter(tokens, rows["gated"], s=12, label="+ hidden state + score")
    left.scatter(tokens, rows["cascade"], s=12, label="cascade decision (prompt + 8 tokens)")
    left.set_xlabel("prompt tokens")
    left.set_ylabel("ms")
    left.legend(fontsize=8)
    left.grid(alpha=0.3)
    right.scatter(tokens, rows["overhead"], s=12, color="C3")
    right.axhline(1.0, color="grey", linewidth=0.8, linestyle="--")
    right.set_xlabel("prompt tokens")
    right.set_ylabel("router overhead ms (paired difference)")
    right.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--prompts", type=int, default=30)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--max-tokens", type=int, default=64)
    parser.add_argument("--artifact", type=Path, default=Path("eval/router.json"))
    args = parser.parse_args()
    result = asyncio.run(measure(_prompts(args.prompts), args.repeats, args.max_tokens, args.artifact))
    table = _table(result, args.max_tokens)
    print(table)
    OUT.mkdir(exist_ok=True)
    write_result(OUT, "router", "# Router overhead (`.venv/bin/python bench/router.py`)\n\n" + table, result)
    plot(result, OUT / "router.png")
    print(f"\nwrote {OUT / 'router.md'} and {OUT / 'router.png'}")


if __name__ == "__main__":
    main()
