"""Redaction on prompts without personal data: how many get a placeholder, and what it costs the cloud's answer.

The prompts are the eval's MT-Bench first turns (80) and its ShareGPT sample (64): real questions,
almost none about a private person. Each goes through the edge's privacy step with the default
settings, with and without the context rule (places and organisations only in personal text).
For every prompt that still gets a placeholder, the cloud model (Qwen2.5-Coder-1.5B, greedy)
answers the raw prompt and the redacted one (its answer restored, as the edge returns it), and
the cloud model rates each answer on its own with MT-Bench's ``single-v1`` prompt (the eval's
Judge: the expected 1..10 verdict under the judge's next-token distribution). The score is the
redacted answer's rating minus the raw one's, so 0 means no difference (identical answers score
0 without a judge call). Prints a table, writes bench/results/redact_quality.md, .json and .png.

    .venv/bin/python bench/redact_quality.py [--max-items 40] [--max-tokens 192] [--mode strict]

``--mode strict`` measures strict mode (privacy/strict.py) instead, and writes redact_quality_strict.*.
"""

from __future__ import annotations

import argparse
import asyncio
import math
import os
import statistics
from collections import Counter
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

from edgesplit.admission import ModelQueue
from edgesplit.evaluation.bench_report import RESULTS, pyplot, write_result
from edgesplit.evaluation.datasets import EvalItem, load_set
from edgesplit.evaluation.judge import Judge
from edgesplit.generation import GenerationParams, Prompt, TokenEvent
from edgesplit.llama.backend import LocalBackend
from edgesplit.models import locate_model
from edgesplit.privacy.detectors import Detector
from edgesplit.privacy.policy import PrivacyPolicy
from edgesplit.privacy.redactor import PrivacyPlan, Redactor
from edgesplit.privacy.restore import restore
from edgesplit.privacy.vault import Vault
from edgesplit.privacy.vocabulary import PrivacyMode

OUT = RESULTS  # committed (bench/results); bench/out is scratch
CLOUD = "qwen2.5-coder-1.5b-instruct"


def plans(items: list[EvalItem], context_rule: bool, mode: PrivacyMode = "standard") -> list[PrivacyPlan]:
    context = ("LOCATION", "ORGANIZATION") if context_rule else ()
    redactor = Redactor(Detector(ner=True, context_types=context, mode=mode), Vault(), PrivacyPolicy())
    out = []
    for item in items:
        plan = redactor.plan(Prompt(messages=(("user", item.prompt),)), None, None, item.key)
        _ = plan.upstream_prompt  # what would leave the edge
        out.append(plan)
    return out


async def answer(backend: LocalBackend, prompt: Prompt, max_tokens: int) -> str:
    params = GenerationParams(max_tokens=max_tokens, temperature=0.0)
    return "".join([e.text async for e in backend.stream(prompt, params) if isinstance(e, TokenEvent)])


async def judged(judge: Judge, question: str, raw: str, redacted: str) -> tuple[float, float]:
    """The judge's expected ratings of the raw and the redacted answer (nan when unparsed)."""
    first = await judge.rate(question, raw)
    if raw == redacted:
        return (first.rating or math.nan,) * 2
    second = await judge.rate(question, redacted)
    return first.rating or math.nan, second.rating or math.nan


async def quality(items: list[EvalItem], chosen: list[PrivacyPlan], max_tokens: int) -> list[dict[str, object]]:
    backend = LocalBackend(CLOUD, locate_model(CLOUD), ModelQueue(CLOUD, 1, 1), n_ctx=4096, n_threads=2)
    judge = Judge(backend.stream)
    rows = []
    for i, (item, plan) in enumerate(zip(items, chosen, strict=True)):
        raw = await answer(backend, plan.prompt, max_tokens)
        redacted = restore(plan.mapping, await answer(backend, plan.upstream_prompt, max_tokens))
        rating_raw, rating_redacted = await judged(judge, item.prompt, raw, redacted)
        rows.append({"id": item.key, "set": item.set, "redacted": plan.counts, "same_answer": raw == redacted,
                     "rating_raw": rating_raw, "rating_redacted": rating_redacted,
                     "difference": rating_redacted - rating_raw})  # fmt: skip
        print(f"  {i + 1}/{len(items)} {item.key}: {plan.counts} -> {rating_raw:.2f} vs {rating_redacted:.2f}")
    backend.close()
    return rows


def with_placeholders(plans_: list[PrivacyPlan]) -> list[int]:
    return [i for i, p in enumerate(plans_) if p.counts]


def report(items: list[EvalItem], on: list[PrivacyPlan], off: list[PrivacyPlan], rows: list[dict[str, object]]) -> str:
    lines = ["| prompts | n | with a placeholder (context rule on) | (context rule off) |", "|---|---:|---:|---:|"]
    for name in sorted({i.set for i in items}):
        idx = [k for k, item in enumerate(items) if item.set == name]
        hit_on = sum(1 for k in idx if on[k].counts)
        hit_off = sum(1 for k in idx if off[k].counts)
        lines.append(f"| {name} | {len(idx)} | {hit_on} | {hit_off} |")
    types_on: Counter[str] = Counter()
    for plan in on:
        types_on.update(plan.counts)
    lines += ["", f"placeholders by type (rule on): {dict(types_on)}"]
    if rows:
        scores = [float(r["difference"]) for r in rows if not math.isnan(float(r["difference"]))]  # type: ignore[arg-type]
        raw = [float(r["rating_raw"]) for r in rows if not math.isnan(float(r["rating_raw"]))]  # type: ignore[arg-type]
        same = sum(1 for r in rows if r["same_answer"])
        worse = sum(1 for d in scores if d < -1)
        lines += [
            "",
            "| prompts answered twice | identical answers | mean rating, raw | mean difference, redacted - raw "
            "| min | max | worse by more than 1 |",
            "|---:|---:|---:|---:|---:|---:|---:|",
            f"| {len(rows)} | {same} | {statistics.mean(raw):.2f} | {statistics.mean(scores):+.3f} "
            f"| {min(scores):+.2f} | {max(scores):+.2f} | {worse} |",
        ]
    return "\n".join(lines)


def plot(rows: list[dict[str, object]], path: Path) -> None:
    plt = pyplot()

    fig, ax = plt.subplots(figsize=(8, 3.5))
    scores = [float(r["difference"]) for r in rows]  # type: ignore[arg-type]
    ax.bar(range(len(scores)), scores)
    ax.axhline(0.0, color="grey", linestyle="--", label="no difference")
    ax.set_xlabel("prompt with a placeholder")
    ax.set_ylabel("rating, redacted - raw")
    ax.set_title("Cloud answer quality with redaction on vs off (judge: Qwen2.5-Coder-1.5B)")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--max-items", type=int, default=40, help="most prompts with a placeholder to judge")
    parser.add_argument("--max-tokens", type=int, default=192)
    parser.add_argument("--mode", choices=["standard", "strict"], default="standard")
    args = parser.parse_args()
    out_name = "redact_quality" if args.mode == "standard" else "redact_quality_strict"
    items = [i for set_name in ("mtbench", "sharegpt") for i in load_set(set_name)]
    on, off = plans(items, True, args.mode), plans(items, False, args.mode)
    chosen = with_placeholders(on)[: args.max_items]
    hits, hits_off = len(with_placeholders(on)), len(with_placeholders(off))
    print(f"{len(items)} prompts; {hits} get a placeholder ({hits_off} without the context rule)")
    rows = asyncio.run(quality([items[i] for i in chosen], [on[i] for i in chosen], args.max_tokens)) if chosen else []
    text = report(items, on, off, rows)
    print()
    print(text)
    OUT.mkdir(exist_ok=True)
    write_result(OUT, out_name, text, {"mode": args.mode, "rows": rows})
    if rows:
        plot(rows, OUT / f"{out_name}.png")
    print(f"\nwrote {OUT / out_name}.md, .json" + (" and .png" if rows else ""))


if __name__ == "__main__":
    main()
