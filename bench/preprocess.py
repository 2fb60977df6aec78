"""What ``compress`` saves and costs when a long device log escalates from the local tier to the cloud.

The committed seeded set (``eval/device_logs.jsonl``, 16 logs of 160-260 lines, each with one
question and one objective answer). For each item, in one run, side by side:

- **full**: the cloud model (Qwen2.5-Coder-1.5B) answers the whole log;
- **compressed**: the local tier's ``compress`` pre-processor (with the local model,
  Qwen2.5-Coder-0.5B, scoring the lines) cuts the log to ``--keep`` lines, then the cloud answers.

Reported per variant: bytes sent upstream, cloud prompt tokens, time to answer, and accuracy
(the expected code or time appears in the answer), and the ratios compressed / full.
Prints the table and writes bench/results/preprocess.json, preprocess.md and preprocess.png.

    .venv/bin/python bench/preprocess.py [--limit 16] [--keep 24]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")

from edgesplit.admission import ModelQueue
from edgesplit.evaluation.bench_report import RESULTS, pyplot, write_result
from edgesplit.evaluation.device_logs import load
from edgesplit.generation import GenerationParams, Prompt, TokenEvent
from edgesplit.llama.backend import LocalBackend
from edgesplit.models import locate_model
from edgesplit.preprocess.compress import Compressor

OUT = RESULTS  # committed (bench/results); bench/out is scratch
DATA = Path(__file__).parent.parent / "eval" / "device_logs.jsonl"
CLOUD, LOCAL = "qwen2.5-coder-1.5b-instruct", "qwen2.5-coder-0.5b-instruct"


async def answer(cloud: LocalBackend, prompt: Prompt) -> tuple[str, float]:
    start = time.perf_counter()
    parts = [
        e.text
        async for e in cloud.stream(prompt, GenerationParams(max_tokens=64, temperature=0.0))
        if isinstance(e, TokenEvent)
    ]
    return "".join(parts), time.perf_counter() - start


async def run(limit: int, keep: int) -> list[dict[str, Any]]:
    cloud = LocalBackend(CLOUD, locate_model(CLOUD), ModelQueue(CLOUD, 1, 1), n_ctx=8192)
    compressor = Compressor(LOCAL, None, min_lines=40, keep_lines=keep)
    rows = []
    for item in load(DATA)[:limit]:
        full = Prompt(messages=(("user", item.prompt),))
        compressed = compressor.apply(full).prompt
        for variant, prompt in (("full", full), ("compressed", compressed)):
            text, seconds = await answer(cloud, prompt)
            row = {
                "item": item.id,
                "kind": item.kind,
                "variant": variant,
                "bytes": len(prompt.messages[0][1].encode()),
                "prompt_tokens": len(cloud.tokenize(prompt)),
                "seconds": round(seconds, 2),
                "correct": item.answer.lower() in text.lower(),
                "answer": text.strip()[:80],
            }
            rows.append(row)
            print(json.dumps(row, ensure_ascii=False), flush=True)
    cloud.close()
    return rows


def summary(rows: list[dict[str, Any]]) -> dict[str, dict[str, float]]:
    out = {}
    for variant in ("full", "compressed"):
        mine = [r for r in rows if r["variant"] == variant]
        out[variant] = {
            "items": len(mine),
            "bytes_mean": statistics.mean(r["bytes"] for r in mine),
            "prompt_tokens_mean": statistics.mean(r["prompt_tokens"] for r in mine),
            "seconds_mean": statistics.mean(r["seconds"] for r in mine),
            "accuracy": sum(r["correct"] for r in mine) / len(mine),
        }
    full, comp = out["full"], out["compressed"]
    out["ratio compressed/full"] = {
        key: comp[key] / full[key] if full[key] else float("nan") for key in full if key != "items"
    }
    return out


def table(result: dict[str, dict[str, float]]) -> str:
    lines = ["| variant | bytes sent | cloud prompt tokens | s per answer | accuracy |", "|---|---|---|---|---|"]
    for name, s in result.items():
        fmt = "{:.2f}" if name.startswith("ratio") else "{:.0f}"
        lines.append(
            f"| {name} | {fmt.format(s['bytes_mean'])} | {fmt.format(s['prompt_tokens_mean'])} "
            f"| {s['seconds_mean']:.2f} | {s['accuracy']:.2f} |"
        )
    return "\n".join(lines)


def plot(rows: list[dict[str, Any]], path: Path) -> None:
    plt = pyplot()

    items = sorted({r["item"] for r in rows})
    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    for offset, variant in ((-0.2, "full"), (0.2, "compressed")):
        mine = {r["item"]: r for r in rows if r["variant"] == variant}
        xs = [i + offset for i in range(len(items))]
        axes[0].bar(xs, [mine[k]["prompt_tokens"] for k in items], width=0.4, label=variant)
        axes[1].bar(xs, [1 if mine[k]["correct"] else 0 for k in items], width=0.4, label=variant)
    axes[0].set_title("cloud prompt tokens per item")
    axes[1].set_title("answer correct (1) per item")
    for ax in axes:
        ax.set_xticks(range(len(items)), [k.removeprefix("devlog-") for k in items])
        ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--limit", type=int, default=16)
    parser.add_argument("--keep", type=int, default=24)
    args = parser.parse_args()
    rows = asyncio.run(run(args.limit, args.keep))
    result = summary(rows)
    OUT.mkdir(exist_ok=True)
    text = f"# compress on {len(rows) // 2} device logs (keep {args.keep} lines)\n\n{table(result)}\n"
    write_result(OUT, "preprocess", text, {"keep": args.keep, "summary": result, "rows": rows})
    plot(rows, OUT / "preprocess.png")
    print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
