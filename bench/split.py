"""Segment split: measured end-to-end latency of every option under emulated links, next to the planner.

Three parts, one run (both tiers on this machine, SmolLM2; edge -> link emulator -> cloud):

1. Codecs: bytes per token and top-1 next-token agreement of split (k = N/2) with the unsplit
   model, per codec, over a fixed text sample.
2. Links: for each link profile, the planner's prediction and the measured latency of a
   request (fixed prompt, greedy, fixed answer length) served edge-only, cloud-only and split at
   several k per codec; prediction error, and how far the planner's pick is from the best.
   For ``least-cloud`` (a latency budget of 1.5x the fastest measured option per link), the
   option with the least cloud compute that the planner predicts within budget, against the
   one the measurements put within budget.
3. Cloud capacity: several edge nodes at once, each over HTTP, generate through split sessions
   at k (k = 0: the cloud runs every layer); the cloud's own accounting gives generated tokens
   per second of its compute. Edges and cloud share this machine's two cores, so wall-clock
   throughput cannot show the gain; cloud compute per token can.

Writes bench/results/split.md and bench/results/split.png.

    .venv/bin/python bench/split.py [--ks 1 8 15 22 29] [--codecs int8o fp16] [--answer-tokens 16]

Every option: ``--ks $(seq 1 29) --codecs fp32 fp16 int8 int8o`` (hours: split decoding pays a
round trip per token, about 10 s per request on the satellite profile).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import torch

os.environ.setdefault("HF_HUB_OFFLINE", "1")

from edgesplit.config import load_settings
from edgesplit.engine.codec import CODECS, Codec, decode_frame, encode_frame, frame_bytes
from edgesplit.engine.model import new_caches
from edgesplit.engine.weights import load_gguf
from edgesplit.evaluation.bench_report import RESULTS, pyplot, write_result
from edgesplit.generation import Prompt
from edgesplit.llama.tokenizer import ChatTokenizer
from edgesplit.models import locate_model
from edgesplit.planner.split import LinkEstimate, measure_link, measure_upstream, options
from edgesplit.server import NodeServer, build_node
from edgesplit.transport.netem import LinkEmulator, LinkProfile
from edgesplit.transport.upstream import UpstreamClient

OUT = RESULTS  # committed (bench/results); bench/out is scratch
MODEL = "smollm2-135m-instruct"
TOKEN = "bench-split-token"
PROMPT = "List the numbers from one to forty in words, separated by commas."
SAMPLE = (
    "The scanner in room four restarts every night at two. Operators report that the cooling fan "
    "is loud before the restart, and the log shows a temperature warning. Replace the fan filter, "
    "check the airflow, and update the firmware to the latest version before the next shift. "
    "If the problem persists, call the service desk and describe the sequence of events. "
    "def moving_average(values, window):\n    total = sum(values[:window])\n    out = [total / window]\n"
    "    for i in range(window, len(values)):\n        total += values[i] - values[i - window]\n"
    "        out.append(total / window)\n    return out\n"
    "A ferrovia liga as duas cidades desde 1910, e o trem noturno ainda leva cerca de seis horas. "
    "Passengers can book a sleeper cabin, bring a bicycle for a small fee, and buy breakfast on board. "
    "The quarterly report shows revenue up 12 percent, driven by service contracts in the northern region."
)
LINKS = [
    LinkProfile("lan", latency_ms=0.5, bandwidth_mbps=1000),
    LinkProfile("wifi", latency_ms=3, bandwidth_mbps=100),
    LinkProfile("4g", latency_ms=25, bandwidth_mbps=20),
    LinkProfile("3g", latency_ms=75, bandwidth_mbps=2),
    LinkProfile("weak", latency_ms=120, bandwidth_mbps=0.5),
    LinkProfile("satellite", latency_ms=300, bandwidth_mbps=5),
]


def codec_table(k_half: int) -> list[dict[str, Any]]:
    path = locate_model(MODEL)
    model = load_gguf(path, max_seq_len=256)
    tokens = torch.tensor(ChatTokenizer.vocab_only(path).encode(Prompt(text=SAMPLE)))
    n, positions = model.config.n_layers, torch.arange(len(tokens))
    rows = []
    with torch.inference_mode():
        reference = model.forward_all(tokens, positions, new_caches(model.config, range(n))).argmax(-1)
        for codec in CODECS:
            h = model.forward_layers(
                model.embed(tokens), range(k_half), positions, new_caches(model.config, range(k_half))
            )
            frame, _ = decode_frame(encode_frame(h, 0, codec))
            cloud = new_caches(model.config, range(k_half, n))
            split = model.logits(model.forward_layers(frame.hidden, range(k_half, n), positions, cloud)).argmax(-1)
            rows.append(
                {
                    "codec": codec,
                    "bytes_per_token": frame_bytes(codec, 1, model.config.dim),
                    "ratio_to_fp32": frame_bytes(codec, 1, model.config.dim) / frame_bytes("fp32", 1, model.config.dim),
                    "top1_agreement": float((split == reference).float().mean()),
                    "tokens": len(tokens),
                }
            )
    return rows


def _request(client: httpx.Client, route: str, answer_tokens: int) -> tuple[float, int]:
    body = {
        "model": "edgesplit/auto",
        "messages": [{"role": "user", "content": PROMPT}],
        "max_tokens": answer_tokens,
        "temperature": 0,
    }
    headers = {"x-edgesplit-route": route, "x-edgesplit-privacy": "allow"}
    start = time.perf_counter()
    response = client.post("/v1/chat/completions", json=body, headers=headers)
    elapsed = (time.perf_counter() - start) * 1000
    response.raise_for_status()
    meta = response.json()["edgesplit"]
    if meta["fallback"]:
        raise RuntimeError(f"{route} fell back: {meta}")
    return elapsed, int(response.json()["usage"]["completion_tokens"])


async def _measure(url: str) -> LinkEstimate:
    client = UpstreamClient(url, TOKEN, 30)
    try:
        return await measure_link(client, repeats=2)
    finally:
        await client.aclose()


def link_runs(
    cloud: NodeServer, workdir: Path, ks: list[int], codecs: list[Codec], answer_tokens: int
) -> list[dict[str, Any]]:
    port = int(cloud.url.rsplit(":", 1)[1])
    cloud_profile, _ = asyncio.run(measure_upstream(cloud.url, TOKEN))
    edge_profile = cloud_profile  # same machine, same model: one profile serves both tiers
    path = locate_model(MODEL)
    prompt_tokens = len(ChatTokenizer.vocab_only(path).encode(Prompt(messages=(("user", PROMPT),))))
    rows = []
    with LinkEmulator("127.0.0.1", port, LINKS[0]) as link:
        for codec in codecs:
            for k in ks:
                settings = load_settings(
                    role="edge",
                    port=0,
                    upstream=link.url,
                    upstream_token=TOKEN,
                    split_model=MODEL,
                    split_k=k,
                    split_codec=codec,
                    upstream_timeout_s=60,
                    data_dir=workdir / f"edge-{codec}-{k}",
                    link_probe_interval_s=0,
                )
                with NodeServer(build_node(settings)) as edge, httpx.Client(base_url=edge.url, timeout=600) as client:
                    for profile in LINKS:
                        link.set_profile(profile)
                        estimate = asyncio.run(_measure(link.url))
                        table = {o.name: o for o in options(edge_profile, cloud_profile, estimate, prompt_tokens)}
                        routes = [("split", f"split@{k}/{codec}")]
                        if codec == codecs[0] and k == ks[0]:
                            routes = [("edge", "edge"), ("cloud", "cloud"), *routes]
                        for route, name in routes:
                            _request(client, route, answer_tokens)  # warm
                            measured, generated = zip(
                                *(_request(client, route, answer_tokens) for _ in range(2)), strict=True
                            )
                            rows.append(
                                {
                                    "link": profile.name,
                                    "option": name,
                                    "measured_ms": statistics.median(measured),
                                    "predicted_ms": table[name].total_ms(int(statistics.median(generated))),
                                    "cloud_ms_per_token": table[name].cloud_ms_per_token,
                                    "rtt_ms": estimate.rtt_ms,
                                    "bandwidth_mbps": estimate.bandwidth_mbps,
                                }
                            )
                            print(
                                f"  {profile.name:9} {name:16} measured {rows[-1]['measured_ms']:8.0f} ms"
                                f"  predicted {rows[-1]['predicted_ms']:8.0f} ms"
                            )
    return rows


def capacity(cloud: NodeServer, workdir: Path, k: int, edges: int = 3, requests: int = 2, tokens: int = 24) -> float:
    """Generated tokens per second of cloud compute while ``edges`` edge nodes split at ``k`` concurrently."""
    store = cloud.node.split_sessions  # type: ignore[attr-defined]
    servers = [
        NodeServer(
            build_node(
                load_settings(
                    role="edge",
                    port=0,
                    upstream=cloud.url,
                    upstream_token=TOKEN,
                    split_model=MODEL,
                    split_k=k,
                    split_codec="int8o",
                    upstream_timeout_s=120,
                    data_dir=workdir / f"capacity-{k}-{i}",
                    link_probe_interval_s=0,
                )
            )
        ).start()
        for i in range(edges)
    ]

    def one_edge(server: NodeServer) -> None:
        with httpx.Client(base_url=server.url, timeout=600) as client:
            for _ in range(requests):
                _request(client, "split", tokens)

    try:
        busy_before, steps_before = store.busy_s, store.steps
        with ThreadPoolExecutor(edges) as pool:
            list(pool.map(one_edge, servers))
        return (store.steps - steps_before) / (store.busy_s - busy_before)
    finally:
        for server in servers:
            server.stop()


def least_cloud_table(runs: list[dict[str, Any]], with_edge: bool) -> list[str]:
    """The least-cloud pick (budget 1.5x the fastest measured option) by prediction vs by measurement."""
    title = "all options" if with_edge else "without edge-only (an edge that cannot hold the whole model)"
    lines = [
        "",
        f"least-cloud, {title}; budget 1.5x the fastest measured option on each link:",
        "",
        "| link | budget ms | planner pick (cloud ms/token) | its measured ms | within budget | "
        "measured choice (cloud ms/token) | same cloud cost |",
        "|---|---:|---|---:|---|---|---|",
    ]
    for profile in LINKS:
        rows = [r for r in runs if r["link"] == profile.name and (with_edge or r["option"] != "edge")]
        if not rows:
            continue
        budget = 1.5 * min(r["measured_ms"] for r in rows)
        predicted_in = [r for r in rows if r["predicted_ms"] <= budget] or [min(rows, key=lambda r: r["predicted_ms"])]
        measured_in = [r for r in rows if r["measured_ms"] <= budget]
        pick = min(predicted_in, key=lambda r: (r["cloud_ms_per_token"], r["predicted_ms"]))
        best = min(measured_in, key=lambda r: (r["cloud_ms_per_token"], r["measured_ms"]))
        lines.append(
            f"| {profile.name} | {budget:.0f} | {pick['option']} ({pick['cloud_ms_per_token']:.2f}) | "
            f"{pick['measured_ms']:.0f} | {'yes' if pick['measured_ms'] <= budget else 'no'} | "
            f"{best['option']} ({best['cloud_ms_per_token']:.2f}) | "
            f"{'yes' if pick['cloud_ms_per_token'] <= best['cloud_ms_per_token'] + 1e-9 else 'no'} |"
        )
    return lines


def report(codecs: list[dict[str, Any]], runs: list[dict[str, Any]], cap: dict[int, float], n: int) -> str:
    lines = ["| codec | bytes/token | vs fp32 | top-1 agreement with unsplit |", "|---|---:|---:|---:|"]
    for row in codecs:
        lines.append(
            f"| {row['codec']} | {row['bytes_per_token']} | {row['ratio_to_fp32']:.3f} | "
            f"{row['top1_agreement']:.3f} ({row['tokens']} tokens) |"
        )
    lines += [
        "",
        "| link | measured RTT ms | Mbit/s | best measured | planner pick | pick vs best | mean abs prediction error |",
        "|---|---:|---:|---|---|---:|---:|",
    ]
    for profile in LINKS:
        rows = [r for r in runs if r["link"] == profile.name]
        if not rows:
            continue
        best = min(rows, key=lambda r: r["measured_ms"])
        pick = min(rows, key=lambda r: r["predicted_ms"])
        error = statistics.mean(abs(r["predicted_ms"] - r["measured_ms"]) / r["measured_ms"] for r in rows)
        lines.append(
            f"| {profile.name} | {rows[0]['rtt_ms']:.1f} | {rows[0]['bandwidth_mbps']:.1f} | {best['option']} "
            f"({best['measured_ms']:.0f} ms) | {pick['option']} ({pick['measured_ms']:.0f} ms) | "
            f"{pick['measured_ms'] / best['measured_ms']:.2f}x | {error:.0%} |"
        )
    lines += least_cloud_table(runs, with_edge=True) + least_cloud_table(runs, with_edge=False)
    lines += ["", "| link | option | measured ms | predicted ms |", "|---|---|---:|---:|"]
    lines += [f"| {r['link']} | {r['option']} | {r['measured_ms']:.0f} | {r['predicted_ms']:.0f} |" for r in runs]
    base = cap[0]
    lines += [
        "",
        "Cloud capacity, 3 edge nodes generating concurrently over HTTP (int8o frames):",
        "",
        "| cloud runs | tokens per cloud-second | vs all layers | ideal N/(N-k) |",
        "|---|---:|---:|---:|",
    ]
    for k, rate in cap.items():
        lines.append(f"| layers [{k}, {n}) | {rate:.1f} | {rate / base:.2f}x | {n / (n - k):.2f}x |")
    return "\n".join(lines)


def plot(runs: list[dict[str, Any]], path: Path) -> None:
    plt = pyplot()

    names = sorted({r["link"] for r in runs}, key=[p.name for p in LINKS].index)
    fig, axes = plt.subplots(1, len(names), figsize=(4 * len(names), 4), sharey=False)
    for ax, name in zip(axes, names, strict=True):
        rows = [r for r in runs if r["link"] == name]
        xs = range(len(rows))
        ax.bar([x - 0.2 for x in xs], [r["measured_ms"] for r in rows], 0.4, label="measured")
        ax.bar([x + 0.2 for x in xs], [r["predicted_ms"] for r in rows], 0.4, label="predicted")
        ax.set_xticks(list(xs), [r["option"] for r in rows], rotation=70, fontsize=7)
        ax.set_title(name)
        ax.set_yscale("log")
    axes[0].set_ylabel("request latency, ms (log)")
    axes[0].legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ks", type=int, nargs="+", default=[1, 8, 15, 22, 29])
    parser.add_argument("--codecs", nargs="+", choices=list(CODECS), default=["int8o", "fp16"])
    parser.add_argument("--answer-tokens", type=int, default=16)
    args = parser.parse_args()
    print("codecs:")
    codecs = codec_table(15)
    with tempfile.TemporaryDirectory(prefix="edgesplit-split-") as tmp:
        settings = load_settings(
            role="cloud", port=0, model=MODEL, api_token=TOKEN, split_model=MODEL, data_dir=Path(tmp) / "cloud"
        )
        with NodeServer(build_node(settings)) as cloud:
            print("links:")
            runs = link_runs(cloud, Path(tmp), args.ks, args.codecs, args.answer_tokens)
            n = cloud.node.split_sessions.n_layers  # type: ignore[attr-defined]
            print("capacity:")
            cap = {k: capacity(cloud, Path(tmp), k) for k in (0, 8, 15, 22)}
    text = report(codecs, runs, cap, n)
    print()
    print(text)
    OUT.mkdir(exist_ok=True)
    write_result(OUT, "split", text, {"codecs": codecs, "runs": runs, "capacity": cap})
    plot(runs, OUT / "split.png")
    print(f"\nwrote {OUT / 'split.md'} and {OUT / 'split.png'}")


if __name__ == "__main__":
    main()
