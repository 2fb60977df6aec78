"""Batched verification against plain greedy decoding: how far apart their numbers are, and where answers part.

For each prompt of bench/speculative.py's mix, in one process and with no link:

1. the reference: plain greedy decoding (prompt in one batch, then one token at a time, as the
   cloud's own streaming does), with the top-2 logit margin at every step
   (``edgesplit.llama.margins``);
2. a batched verify session (``cloud/verifier.py``, mode ``batched``) fed the reference answer
   itself as drafts of ``--gamma`` tokens (a perfect drafter: every draft token is checked in a
   block, the hardest case for batched numerics). The session's answer diverges from the
   reference only where the block pass picks another token; the reference margin there says
   whether that was a near-tie.

Also: the largest difference between a block pass's logits and plain decoding's for the same
positions, which bounds how close a tie must be to flip. The tolerance the contract states
(``TIE_TOLERANCE`` in cloud/verifier.py) must be at least the largest divergence margin seen.
Writes bench/results/verify_ties.md and .json.

    .venv/bin/python bench/verify_ties.py [--models qwen2.5-coder-1.5b-instruct] [--max-tokens 96] [--gamma 4]
"""

from __future__ import annotations

import argparse
import os
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import numpy as np

from edgesplit.cloud.ties import divergence
from edgesplit.cloud.verifier import TIE_TOLERANCE, Verifier
from edgesplit.evaluation.bench_report import RESULTS, write_result
from edgesplit.generation import Prompt
from edgesplit.models import locate_model

OUT = RESULTS  # committed (bench/results); bench/out is scratch


def prompts() -> list[str]:
    from speculative import PROMPTS  # the same mix as bench/speculative.py

    return [text for _, text in PROMPTS]


def block_logit_gap(verifier: Verifier, prompt_ids: list[int], answer: list[int], gamma: int) -> float:
    """Largest |logit| difference between evaluating ``answer`` in blocks of ``gamma`` and one at a time."""
    llm = verifier._llm  # a bench reads the verifier's own context: same weights, same settings
    rows: dict[str, list[np.ndarray]] = {"plain": [], "block": []}
    for name, step in (("plain", 1), ("block", gamma)):
        llm.reset()
        llm.eval(prompt_ids)
        for start in range(0, len(answer), step):
            block = answer[start : start + step]
            llm.eval(block)
            rows[name].extend(np.array(llm.scores[llm.n_tokens - len(block) + i]) for i in range(len(block)))
    return max((float(np.max(np.abs(a - b))) for a, b in zip(rows["plain"], rows["block"], strict=True)), default=0.0)


def run_prompt(verifier: Verifier, reference_llm: Any, text: str, max_tokens: int, gamma: int) -> dict[str, Any]:
    found = divergence(verifier, reference_llm, text, max_tokens, gamma, "batched")
    prompt_ids = verifier.tokenizer.encode(Prompt(messages=(("user", text),)))
    answer = [s.token for s in found.reference if not verifier.tokenizer.is_end(s.token)]
    return {
        "prompt": text[:60],
        "tokens": len(found.reference),
        "verified": found.verified,  # tokens equal to plain decoding before any divergence
        "passes": found.passes,
        "diverged_at": found.at,
        "margin_at_divergence": found.margin,
        "smallest_margin": min(s.margin for s in found.reference),
        "block_logit_gap": block_logit_gap(verifier, prompt_ids, answer, gamma),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", default=["qwen2.5-coder-1.5b-instruct"])
    parser.add_argument("--max-tokens", type=int, default=96)
    parser.add_argument("--gamma", type=int, default=4)
    parser.add_argument("--limit", type=int, default=None)
    args = parser.parse_args()
    from llama_cpp import Llama

    results: dict[str, list[dict[str, Any]]] = {}
    for model in args.models:
        path = locate_model(model)
        verifier = Verifier(model, path, n_ctx=2048, max_draft_tokens=max(128, args.gamma))
        reference = Llama(model_path=str(path), n_ctx=2048, n_threads=2, verbose=False)
        chosen = prompts()[: args.limit]
        results[model] = [run_prompt(verifier, reference, p, args.max_tokens, args.gamma) for p in chosen]
        reference.close()
        verifier.close_model()
    lines = [
        f"# Batched verification vs plain greedy (gamma {args.gamma}, {args.max_tokens} tokens, perfect drafts)",
        "",
        f"Contract tolerance TIE_TOLERANCE = {TIE_TOLERANCE} (logits).",
        "",
        "| model | prompts | diverged | largest margin at a divergence | divergences above tolerance "
        "| largest block-vs-plain logit gap | tokens per pass |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for model, rows in results.items():
        margins = [r["margin_at_divergence"] for r in rows if r["diverged_at"] is not None]
        over = sum(m >= TIE_TOLERANCE for m in margins)
        per_pass = sum(r["verified"] for r in rows) / max(1, sum(r["passes"] for r in rows))
        lines.append(
            f"| {model} | {len(rows)} | {len(margins)} | {max(margins, default=0):.3f} | {over} "
            f"| {max(r['block_logit_gap'] for r in rows):.3f} | {per_pass:.2f} |"
        )
    report = "\n".join(lines) + "\n"
    print(report)
    OUT.mkdir(exist_ok=True)
    write_result(OUT, "verify_ties", report, {"args": vars(args), "results": results})


if __name__ == "__main__":
    main()
