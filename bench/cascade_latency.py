"""The cascade's streaming modes side by side: time to first token and total latency per family.

Starts the ladder on loopback (device SmolLM2-135M -> local Qwen2.5-Coder-0.5B -> cloud
Qwen2.5-Coder-1.5B, each with the answer check packaged for its model), then sends the held-out
edge-workload items to the device, streamed, twice: with ``cascade_stream = "hold"`` (a short
answer is held and checked whole) and ``"prefix"`` (checked on its first ``cascade_probe_tokens``),
and once more forced to the cloud as the baseline. Reports per family the median time to first
token and total time, where answers were served and how many were right by the item's rule;
the ratios are hold/cloud-only and prefix/cloud-only. Writes bench/results/cascade_latency.md, .json, .png.

    .venv/bin/python bench/cascade_latency.py [--per-family 3] [--probe-tokens 8]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import httpx

from edgesplit.demo import default_settings, serving_tier, start_tiers
from edgesplit.evaluation.bench_report import RESULTS, pyplot, write_result
from edgesplit.evaluation.datasets import heldout_sample
from edgesplit.evaluation.rules import check_answer
from edgesplit.evaluation.workload import WorkloadItem

OUT = RESULTS  # committed (bench/results); bench/out is scratch
MODES = ("cloud-only", "hold", "prefix")


def streamed(client: httpx.Client, item: WorkloadItem, model: str) -> dict[str, Any]:
    """One streamed request: time to first content, total time, the text, the serving tier."""
    body = {"model": model, "messages": [{"role": "user", "content": item.prompt}], "stream": True,
            "temperature": 0, "max_tokens": 320 if item.check == "code" else 128}  # fmt: skip
    started = time.perf_counter()
    first, parts, meta = None, [], {}
    with client.stream("POST", "/v1/chat/completions", json=body) as response:
        response.raise_for_status()
        for line in response.iter_lines():
            if not line.startswith("data: ") or line == "data: [DONE]":
                continue
            chunk = json.loads(line[6:])
            if chunk.get("edgesplit"):  # the first chunk says the route, the last one also lists the hops
                meta = chunk["edgesplit"]
            delta = (chunk.get("choices") or [{}])[0].get("delta", {}).get("content")
            if delta:
                first = first if first is not None else time.perf_counter() - started
                parts.append(delta)
    text = "".join(parts)
    return {"ttft_s": first if first is not None else time.perf_counter() - started,
            "total_s": time.perf_counter() - started, "tier": serving_tier(meta["hops"]) if meta.get("hops") else "?",
            "right": check_answer(item.check, item.expected, text, item.tolerance)[0]}  # fmt: skip


def run(items: list[WorkloadItem], probe_tokens: int) -> dict[str, list[dict[str, Any]]]:
    rows: dict[str, list[dict[str, Any]]] = {}
    for mode in ("hold", "prefix"):
        device = default_settings("edge", cascade_stream=mode, cascade_probe_tokens=probe_tokens)
        local = default_settings("local", cascade_stream=mode, cascade_probe_tokens=probe_tokens,
                                 api_token="bench-local-token")  # fmt: skip
        with start_tiers(device, local, on_stage=lambda s: print(f"  {s}")) as tiers:
            client = httpx.Client(base_url=tiers.device.url, timeout=900)
            if mode == "hold":  # the baseline once: every item forced to the cloud, same ladder
                rows["cloud-only"] = [{"family": i.family, **streamed(client, i, "edgesplit/cloud")} for i in items]
            rows[mode] = []
            for n, item in enumerate(items, 1):
                rows[mode].append({"family": item.family, **streamed(client, item, "edgesplit/auto")})
                print(f"  {mode} {n}/{len(items)} {item.id}: {rows[mode][-1]}")
            client.close()
    return rows


def table(rows: dict[str, list[dict[str, Any]]]) -> str:
    lines = ["| family | n | " + " | ".join(f"{m} TTFT s / total s / right" for m in MODES)
             + " | hold / cloud TTFT | prefix / cloud TTFT | hold served (device/local/cloud) |",
             "|---|---:|" + "---:|" * (len(MODES) + 3)]  # fmt: skip
    families = [*dict.fromkeys(r["family"] for r in rows["hold"]), "all"]
    for family in families:
        cells, ttft = [], {}
        for mode in MODES:
            mine = [r for r in rows[mode] if family in ("all", r["family"])]
            ttft[mode] = statistics.median(r["ttft_s"] for r in mine)
            total = statistics.median(r["total_s"] for r in mine)
            cells.append(f"{ttft[mode]:.2f} / {total:.2f} / {sum(r['right'] for r in mine)}/{len(mine)}")
        held = [r for r in rows["hold"] if family in ("all", r["family"])]
        served = "/".join(str(sum(r["tier"] == t for r in held)) for t in ("device", "local", "cloud"))
        ratios = f"{ttft['hold'] / ttft['cloud-only']:.2f} | {ttft['prefix'] / ttft['cloud-only']:.2f}"
        lines.append(f"| {family} | {len(held)} | " + " | ".join(cells) + f" | {ratios} | {served} |")
    return "\n".join(lines)


def plot(rows: dict[str, list[dict[str, Any]]], path: Path) -> None:
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(8, 4))
    for mode in MODES:
        values = sorted(r["ttft_s"] for r in rows[mode])
        ax.plot(values, [(k + 1) / len(values) for k in range(len(values))], label=mode)
    ax.set_xlabel("time to first token, s")
    ax.set_ylabel("share of requests")
    ax.set_title("Streamed edge-workload requests at the device: TTFT by cascade mode")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--per-family", type=int, default=2)
    parser.add_argument("--probe-tokens", type=int, default=8)
    args = parser.parse_args()
    items = heldout_sample(args.per_family)
    print(f"{len(items)} held-out items, {args.per_family} per family")
    rows = run(items, args.probe_tokens)
    text = table(rows)
    print(text)
    write_result(OUT, "cascade_latency", text, rows)
    plot(rows, OUT / "cascade_latency.png")
    print(f"wrote {OUT / 'cascade_latency'}.md, .json and .png")


if __name__ == "__main__":
    main()
