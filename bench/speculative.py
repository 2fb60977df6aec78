"""Edge drafts, cloud verifies: speculative decoding across the link, against the two ways without it.

Both tiers on this machine: Qwen2.5-Coder-1.5B verifies in the cloud node (llama.cpp), edge ->
link emulator -> cloud. Two drafters: SmolLM2-135M (another model family and tokenizer: drafts
go up as text) and Qwen2.5-Coder-0.5B (a smaller version of the cloud model, the same
vocabulary: drafts go up as token ids). For each emulated round trip, every prompt of a fixed
coding / help-desk mix is answered greedily by:

- ``token-by-token``: remote decoding through a verify session with empty drafts, one round
  trip per token (what split decoding at k = 0 would do);
- ``cloud stream``: the cloud generates the whole answer and streams it (OpenAI API), the
  baseline when text may leave the edge;
- ``<drafter> exact``: the edge drafts, the cloud checks tokens one by one (bit-identical to
  plain greedy), adaptive draft length;
- ``<drafter> batched``: the same, the cloud checks the block in one forward pass (equal to
  plain greedy except at near-ties: bench/verify_ties.py);
- ``skip p>=X``: uncertainty-skip on top of exact (not lossless), for each ``--skip`` threshold.

Every speculative answer is compared with the cloud-stream answer of the same prompt. Cloud
compute per answer token comes from the verifier's own accounting (``verify_ms``), against
token-by-token remote decoding, which runs one plain decoding step per token on the same model.
Writes bench/results/speculative.md and bench/results/speculative.png.

    .venv/bin/python bench/speculative.py [--rtts 5 20 50 100] [--max-tokens 64] [--skip 0.9 0.6] [--limit N]
        [--drafters smollm2-135m-instruct qwen2.5-coder-0.5b-instruct]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import tempfile
import time
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")

from edgesplit.admission import ModelQueue
from edgesplit.config import load_settings
from edgesplit.edge.remote_verifier import RemoteVerifier
from edgesplit.edge.speculative import SpeculativeBackend, SpeculativeStats
from edgesplit.evaluation.bench_report import RESULTS, pyplot, write_result
from edgesplit.generation import Finish, GenerationParams, Prompt, TokenEvent
from edgesplit.llama.backend import DraftToken, LocalBackend
from edgesplit.models import locate_model
from edgesplit.server import NodeServer, build_node
from edgesplit.transport.netem import LinkEmulator, LinkProfile
from edgesplit.transport.remote import RemoteBackend
from edgesplit.transport.upstream import UpstreamClient

OUT = RESULTS  # committed (bench/results); bench/out is scratch
EDGE, CLOUD = "smollm2-135m-instruct", "qwen2.5-coder-1.5b-instruct"  # EDGE: the cross-family drafter
SAME_FAMILY = "qwen2.5-coder-0.5b-instruct"
LABELS = {EDGE: "135M text", SAME_FAMILY: "0.5B ids"}
TOKEN = "bench-speculative-token"
PROMPTS: list[tuple[str, str]] = [
    ("code", "Write a Python function that returns the factorial of n."),
    ("code", "Write a SQL query that counts orders per customer."),
    ("code", "Write a Python function that checks whether a string is a palindrome."),
    ("code", "Write a bash command that counts the lines in every .txt file in a folder."),
    ("help-desk", "How do I reset my password if I forgot it?"),
    ("help-desk", "My laptop will not connect to the office Wi-Fi. What should I check?"),
    ("help-desk", "The printer says it is offline. How do I fix it?"),
    ("help-desk", "How do I set up two-factor authentication for my account?"),
]
BASELINES = ["token-by-token", "cloud stream"]


def drafter_methods(model: str) -> list[str]:
    label = LABELS.get(model, model)
    return [f"{label} exact", f"{label} batched"]


class NoDrafter:
    """Drafts nothing: every verify call returns the cloud's next token (remote token-by-token decoding)."""

    vocab_fingerprint = None  # text drafts only

    async def draft(self, prompt: Prompt, n: int, after: Sequence[int] = ()) -> list[DraftToken]:
        return []


@dataclass
class Run:
    method: str
    rtt_ms: float
    task: str
    text: str
    tokens: int
    seconds: float
    stats: SpeculativeStats | None


async def _collect(events: Any) -> tuple[str, int]:
    parts, tokens = [], 0
    async for event in events:
        if isinstance(event, TokenEvent):
            parts.append(event.text)
        elif isinstance(event, Finish):
            tokens = event.completion_tokens
    return "".join(parts), tokens


def _backend(method: str, drafter: LocalBackend, client: UpstreamClient) -> SpeculativeBackend | RemoteBackend:
    if method == "cloud stream":
        return RemoteBackend(client, CLOUD)
    verifier = RemoteVerifier(client)
    if method == "token-by-token":
        return SpeculativeBackend(NoDrafter(), verifier, CLOUD, mode="exact")
    mode = "batched" if method.endswith(" batched") else "exact"
    return SpeculativeBackend(drafter, verifier, CLOUD, mode=mode)


async def run_method(
    method: str, rtt_ms: float, drafter: LocalBackend, url: str, prompts: list[tuple[str, str]], max_tokens: int
) -> list[Run]:
    client = UpstreamClient(url, TOKEN, 120)
    backend = _backend(method, drafter, client)
    skip = float(method.removeprefix("skip p>=")) if method.startswith("skip") else None
    params = GenerationParams(max_tokens=max_tokens, temperature=0.0, skip_threshold=skip)
    runs = []
    for task, text in prompts:
        prompt = Prompt(messages=(("user", text),))
        stats = SpeculativeStats() if isinstance(backend, SpeculativeBackend) else None
        started = time.perf_counter()
        if isinstance(backend, SpeculativeBackend):
            assert stats is not None
            answer, tokens = await _collect(backend.stream_with_stats(prompt, params, stats))
        else:
            answer, tokens = await _collect(backend.stream(prompt, params))
        runs.append(Run(method, rtt_ms, task, answer, tokens, time.perf_counter() - started, stats))
    await client.aclose()
    return runs


def _rate(runs: list[Run]) -> float:
    return sum(r.tokens for r in runs) / sum(r.seconds for r in runs)


def _sum(runs: list[Run], name: str) -> float:
    return sum(getattr(r.stats, name) for r in runs if r.stats is not None)


def tables(runs: list[Run], rtts: list[float]) -> str:
    by: dict[tuple[str, float], list[Run]] = defaultdict(list)
    for run in runs:
        by[(run.method, run.rtt_ms)].append(run)
    methods = list(dict.fromkeys(r.method for r in runs))
    lines = [
        "| RTT ms | method | tok/s | vs token-by-token | vs cloud stream | tokens / cloud pass | acceptance | "
        "cloud ms / answer token | vs plain decoding | uploads | ms / upload: draft + verify + rest "
        "| same as cloud greedy |",
        "|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---|---:|",
    ]
    for rtt in rtts:
        base = _rate(by[("token-by-token", rtt)])
        stream = _rate(by[("cloud stream", rtt)])
        cloud_texts = [r.text for r in by[("cloud stream", rtt)]]
        plain = by[("token-by-token", rtt)]
        plain_ms = _sum(plain, "verify_ms") / max(1, sum(r.tokens for r in plain))
        for method in methods:
            group = by[(method, rtt)]
            if not group:
                continue
            rate = _rate(group)
            passes = _sum(group, "passes")
            drafted = _sum(group, "drafted")
            same = sum(r.text == c for r, c in zip(group, cloud_texts, strict=True))
            per_pass = f"{sum(r.tokens for r in group) / passes:.2f}" if passes else ""
            acceptance = f"{_sum(group, 'accepted') / drafted:.0%}" if drafted else ""
            uploads, split, compute, ratio = "", "", "", ""
            if group[0].stats is not None:
                per_token = _sum(group, "verify_ms") / max(1, sum(r.tokens for r in group))
                compute, ratio = f"{per_token:.1f}", f"{per_token / plain_ms:.2f}x" if plain_ms else ""
                rounds = _sum(group, "rounds")
                draft, verify = _sum(group, "draft_ms") / rounds, _sum(group, "verify_ms") / rounds
                rest = sum(r.seconds for r in group) * 1000 / rounds - draft - verify
                uploads, split = f"{rounds:.0f}", f"{draft:.0f} + {verify:.0f} + {rest:.0f}"
            lines.append(
                f"| {rtt:g} | {method} | {rate:.1f} | {rate / base:.2f}x | {rate / stream:.2f}x | {per_pass} | "
                f"{acceptance} | {compute} | {ratio} | {uploads} | {split} | {same}/{len(group)} |"
            )
    lines += ["", "Acceptance by task type (all round trips):", "", "| method | task | acceptance | tokens / round |"]
    lines.append("|---|---|---:|---:|")
    for method in [m for m in methods if m not in BASELINES and not m.startswith("skip")]:
        for task in sorted({t for t, _ in PROMPTS}):
            group = [r for r in runs if r.method == method and r.task == task]
            if group and _sum(group, "drafted"):
                lines.append(
                    f"| {method} | {task} | {_sum(group, 'accepted') / _sum(group, 'drafted'):.0%} | "
                    f"{sum(r.tokens for r in group) / _sum(group, 'rounds'):.2f} |"
                )
    exact = [r for r in runs if r.method == f"{LABELS[EDGE]} exact"]
    lines += [
        "",
        "Uncertainty-skip against lossless speculative (exact), all round trips:",
        "",
        "| threshold | uploads (exact) | uploads (skip) | uploads saved | unverified tokens | token agreement | "
        "answers identical (over the shorter) |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for method in [m for m in methods if m.startswith("skip")]:
        skip = [r for r in runs if r.method == method]
        unverified = _sum(skip, "committed") + _sum(skip, "local_tokens")
        disagreed = _sum(skip, "committed") - _sum(skip, "committed_agreed") + _sum(skip, "local_tokens")
        total = sum(r.tokens for r in skip)
        saved = 1 - _sum(skip, "rounds") / _sum(exact, "rounds")
        same = sum(_same_prefix(r.text, e.text) for r, e in zip(skip, exact, strict=True))
        lines.append(
            f"| {method} | {_sum(exact, 'rounds'):.0f} | {_sum(skip, 'rounds'):.0f} | {saved:.0%} | "
            f"{unverified / total:.0%} | {1 - disagreed / total:.1%} | {same}/{len(skip)} |"
        )
    if any(m.startswith("skip") for m in methods):
        lines += [
            "",
            "Token agreement: share of answer tokens that are the cloud's greedy choice given the same prefix. "
            "Verified tokens agree by construction; committed tokens are checked by the cloud when they arrive; "
            "unverified tokens at the end of an answer (the edge was sure it ended) count as disagreeing.",
        ]
    return "\n".join(lines)


def _same_prefix(a: str, b: str) -> bool:
    """The answers agree up to the shorter one (skip mode counts its budget in edge tokens, so lengths differ)."""
    n = min(len(a), len(b))
    return a[:n] == b[:n]


def plot(runs: list[Run], rtts: list[float], path: Path) -> None:
    plt = pyplot()

    fig, ax = plt.subplots(figsize=(7, 4.5))
    for method in dict.fromkeys(r.method for r in runs):
        rates = [_rate([r for r in runs if r.method == method and r.rtt_ms == rtt]) for rtt in rtts]
        ax.plot(rtts, rates, marker="o", label=method)
    ax.set_xlabel("round trip, ms (emulated)")
    ax.set_ylabel("tokens / s")
    ax.set_title(f"drafters for {CLOUD}")
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)


async def bench(args: argparse.Namespace, cloud_url: str) -> list[Run]:
    drafters = {
        model: LocalBackend(model, locate_model(model), ModelQueue(model, 16, 2), n_ctx=2048, n_threads=2)
        for model in args.drafters
    }
    plan = [(method, drafters[args.drafters[0]]) for method in BASELINES]
    plan += [(method, drafter) for model, drafter in drafters.items() for method in drafter_methods(model)]
    if EDGE in drafters:
        plan += [(f"skip p>={p:g}", drafters[EDGE]) for p in args.skip]
    prompts = PROMPTS[: args.limit] if args.limit else PROMPTS
    host, port = cloud_url.removeprefix("http://").split(":")
    runs: list[Run] = []
    with LinkEmulator(host, int(port)) as link:
        for rtt in args.rtts:
            link.set_profile(LinkProfile(f"rtt{rtt:g}", latency_ms=rtt / 2, bandwidth_mbps=100))
            for method, drafter in plan:
                group = await run_method(method, rtt, drafter, link.url, prompts, args.max_tokens)
                runs += group
                print(f"RTT {rtt:>4g} ms  {method:<20} {_rate(group):6.1f} tok/s", flush=True)
    for drafter in drafters.values():
        drafter.close()
    return runs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rtts", type=float, nargs="+", default=[5, 20, 50, 100])
    parser.add_argument("--max-tokens", type=int, default=64)
    parser.add_argument("--skip", type=float, nargs="*", default=[0.9, 0.6], help="skip-mode thresholds")
    parser.add_argument("--limit", type=int, default=0, help="first N prompts only (quick run)")
    parser.add_argument("--drafters", nargs="+", default=[EDGE, SAME_FAMILY], help="edge models that draft")
    args = parser.parse_args()
    OUT.mkdir(exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        settings = load_settings(
            role="cloud", port=0, model=CLOUD, api_token=TOKEN, data_dir=Path(tmp), speculative_model=CLOUD
        )
        with NodeServer(build_node(settings)) as cloud:
            runs = asyncio.run(bench(args, cloud.url))
    report = tables(runs, args.rtts)
    print("\n" + report)
    title = f"# Speculative decoding: {', '.join(args.drafters)} draft, {CLOUD} verifies\n\n"
    write_result(OUT, "speculative", title + report, {"args": vars(args), "runs": runs})
    plot(runs, args.rtts, OUT / "speculative.png")
    print(f"\nwrote {OUT / 'speculative.md'} and {OUT / 'speculative.png'}")


if __name__ == "__main__":
    main()
