"""Scale-out: the cloud on Ray Serve with 1 and 2 replicas, a replica killed under load, latency balancing.

0. **The machine.** The same model in plain llama.cpp (no server, no Ray), one thread, in one
   process and then in two at once: the most 2 replicas could gain on this machine.
1. **Replicas.** The cloud (``--model``, one llama.cpp thread per replica) on a local Ray with
   1, then 2 replicas; the same bounded load each time (``--clients`` threads, ``--requests``
   non-streamed chats each, ``--max-tokens`` greedy tokens). Cloud throughput in completion
   tokens per second and latency p50/p95, and the ratio 2 replicas : 1.
2. **A replica killed under load.** Two replicas behind an edge (its own upstream: the Serve
   proxy, asked again once after a failure: ``upstream_retries = 1``); the same load through the
   edge, and one replica killed (``ray.kill``) a third of the way in. Errors the clients saw
   (goal 0), and how many answers the edge's own model gave instead.
3. **Latency balancing.** Two echo upstreams, one behind a link emulator adding ``--slow-ms``
   each way, under an edge with ``upstream_strategy = "latency"``; the share each gets.

The load comes from a second process (this script with ``--load``), so the clients share no
interpreter with the edge under test. Many edges against one cloud, with and without split
offload, is ``bench/split.py``'s third part (cloud compute per generated token).

Prints the tables and writes bench/results/scale.md, scale.json and scale.png.

    .venv/bin/python bench/scale.py [--model qwen2.5-coder-0.5b-instruct] [--clients 4] [--requests 6] [--max-tokens 32]
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).parent.parent / "tests"))
from doubles import RecordingEcho
from edgesplit.config import load_settings
from edgesplit.evaluation.bench_report import RESULTS, pyplot, write_result
from edgesplit.server import AppServer, NodeServer, build_node
from edgesplit.transport.netem import LinkEmulator, LinkProfile

OUT = RESULTS  # committed (bench/results); bench/out is scratch
TOKEN = "scale-bench-token"
PROMPTS = ["Explain what a load balancer does.", "Write a haiku about servers.", "List three uses of a queue."]


@dataclass
class Load:
    """What one bounded load saw."""

    wall_s: float
    tokens: int
    latencies: list[float]
    errors: int
    edge_finished: int

    def row(self) -> dict[str, float]:
        ordered = sorted(self.latencies) or [0.0]
        return {
            "tokens_per_s": self.tokens / self.wall_s,
            "p50_s": statistics.median(ordered),
            "p95_s": ordered[max(0, round(0.95 * len(ordered)) - 1)],
            "errors": self.errors,
            "edge_finished": self.edge_finished,
            "requests": len(self.latencies) + self.errors,
        }


def run_load(url: str, args: argparse.Namespace, model: str = "default", on_progress: Any = None) -> Load:
    """The bounded load, from a second process: ``args.clients`` x ``args.requests`` chats to ``url``.

    The child prints one line per finished request, then its result; ``on_progress(done)`` is
    called in this process after each line (the kill phase waits for a third of the requests).
    """
    command = [sys.executable, __file__, "--load", url, "--load-model", model, "--clients", str(args.clients),
               "--requests", str(args.requests), "--max-tokens", str(args.max_tokens)]  # fmt: skip
    with subprocess.Popen(command, stdout=subprocess.PIPE, text=True) as child:
        assert child.stdout is not None
        for line in child.stdout:
            message = json.loads(line)
            if "load" in message:
                return Load(**message["load"])
            if on_progress:
                on_progress(message["done"])
    raise RuntimeError(f"the load process ended without a result (exit {child.returncode})")


def client_load(url: str, args: argparse.Namespace) -> Load:
    """In the load process: the threads that send the chats; a line on stdout per answer."""
    headers = {"authorization": f"Bearer {TOKEN}"}
    lock, done = threading.Lock(), [0]
    load = Load(0.0, 0, [], 0, 0)

    def chat(http: httpx.Client, prompt: str) -> dict[str, Any] | None:
        body = {"model": args.load_model, "max_tokens": args.max_tokens, "temperature": 0}
        try:
            reply = http.post("/v1/chat/completions", json=body | {"messages": [{"role": "user", "content": prompt}]})
        except httpx.HTTPError:
            return None
        return reply.json() if reply.status_code == 200 else None

    def client(index: int) -> None:
        with httpx.Client(base_url=url, headers=headers, timeout=300) as http:
            for i in range(args.requests):
                start = time.perf_counter()
                answer = chat(http, f"{PROMPTS[(index + i) % len(PROMPTS)]} ({index}.{i})")
                with lock:
                    done[0] += 1
                    if answer is None:
                        load.errors += 1
                    else:
                        load.latencies.append(time.perf_counter() - start)
                        load.tokens += int(answer["usage"]["completion_tokens"])
                        load.edge_finished += bool(answer.get("edgesplit", {}).get("fallback"))
                    print(json.dumps({"done": done[0]}), flush=True)

    start = time.perf_counter()
    with ThreadPoolExecutor(args.clients) as pool:
        list(pool.map(client, range(args.clients)))
    load.wall_s = time.perf_counter() - start
    return load


def plain_decode(args: argparse.Namespace) -> float:
    """In a child: the model in llama.cpp with one thread, no server; decode tokens/s over the prompts."""
    from edgesplit.llama.runtime import open_llama
    from edgesplit.models import locate_model

    llm = open_llama(str(locate_model(args.model)), 512, 1)
    llm("Hello", max_tokens=2)  # warm
    start, tokens = time.perf_counter(), 0
    for prompt in PROMPTS:
        out = llm(prompt, max_tokens=args.max_tokens, temperature=0)
        tokens += int(out["usage"]["completion_tokens"])
    return tokens / (time.perf_counter() - start)


def machine_part(args: argparse.Namespace) -> dict[str, float]:
    """The ceiling without Ray: 1, then 2 plain processes at once, one thread each; summed tokens/s.

    Each child's rate is over its own decoding time, so when one ends first the other's last
    seconds run alone: the sum reads a little high (it can exceed 2x)."""
    command = [sys.executable, __file__, "--plain-decode", "--model", args.model, "--max-tokens", str(args.max_tokens)]
    rows = {}
    for processes in (1, 2):
        children = [subprocess.Popen(command, stdout=subprocess.PIPE, text=True) for _ in range(processes)]
        rates = [float(child.communicate()[0].strip().splitlines()[-1]) for child in children]
        rows[f"{processes} process{'es' if processes > 1 else ''}"] = sum(rates)
        print(f"  plain llama.cpp, {processes} process(es) x 1 thread: {sum(rates):.1f} tokens/s")
    return rows


def ray_cloud(replicas: int, args: argparse.Namespace, data_dir: Path) -> str:
    from edgesplit.cloud.ray_serve import run_application

    settings = load_settings(
        role="cloud", model=args.model, api_token=TOKEN, data_dir=data_dir, port=args.port, engine="ray",
        ray_replicas=replicas, ray_replica_threads=1,
    )  # fmt: skip
    run_application(settings)
    return f"http://127.0.0.1:{args.port}"


def replicas_part(args: argparse.Namespace, tmp: Path) -> dict[str, dict[str, float]]:
    import ray
    from ray import serve

    from edgesplit.cloud.ray_serve import start_ray

    rows = {}
    start_ray(load_settings(role="cloud", api_token=TOKEN, model=args.model), num_cpus=2)
    try:
        for replicas in (1, 2):
            url = ray_cloud(replicas, args, tmp / f"cloud-{replicas}")
            run_load(url, argparse.Namespace(**{**vars(args), "requests": 1}))  # warm every replica
            rows[f"{replicas} replica{'s' if replicas > 1 else ''}"] = run_load(url, args).row()
            print(f"  {replicas} replica(s): {rows[list(rows)[-1]]['tokens_per_s']:.1f} tokens/s")
        rows["killed"] = killed_part(url, args, tmp)
        serve.delete("edgesplit")
    finally:
        serve.shutdown()  # type: ignore[no-untyped-call]
        ray.shutdown()
    return rows


def killed_part(cloud_url: str, args: argparse.Namespace, tmp: Path) -> dict[str, float]:
    import ray

    settings = load_settings(
        role="edge", port=0, upstream=cloud_url, upstream_token=TOKEN, upstream_model="default",
        data_dir=tmp / "edge", router_packaged=False, link_probe_interval_s=0, upstream_retries=1,
    )  # fmt: skip
    total, killed = args.clients * args.requests, []

    def kill_one(done: int) -> None:
        if killed or done < total // 3:
            return
        names = [a["name"] for a in ray.util.list_named_actors(all_namespaces=True) if a["namespace"] == "serve"]
        (victim, *_) = [name for name in names if name.startswith("SERVE_REPLICA")]
        ray.kill(ray.get_actor(victim, namespace="serve"), no_restart=True)
        killed.append(victim)
        print(f"  killed {victim} after {done} of {total} requests")

    with NodeServer(build_node(settings)) as edge:
        row = run_load(edge.url, args, "edgesplit/cloud", on_progress=kill_one).row()
    row["killed"] = len(killed)  # the report says whether the kill happened
    print(f"  replica killed: {row['errors']} client errors, {row['edge_finished']} answered by the edge")
    return row


def latency_part(args: argparse.Namespace, tmp: Path) -> dict[str, Any]:
    fast, slow = RecordingEcho(), RecordingEcho()
    with AppServer(fast.app) as near, AppServer(slow.app) as far:
        host, port = far.url.removeprefix("http://").split(":")
        link = LinkEmulator(host, int(port), LinkProfile("slow", latency_ms=args.slow_ms)).start()
        try:
            settings = load_settings(
                role="edge", port=0, data_dir=tmp / "balance", router_packaged=False, upstream_strategy="latency",
                link_probe_interval_s=0.5, privacy_default="allow",
                upstreams=[{"url": near.url, "name": "near"}, {"url": link.url, "name": "slow"}],
            )  # fmt: skip
            with NodeServer(build_node(settings)) as edge:
                time.sleep(1.5)  # both probed
                balance_args = argparse.Namespace(**{**vars(args), "requests": args.balance_requests})
                run_load(edge.url, balance_args, "edgesplit/cloud")
        finally:
            link.stop()
    counts = {"near": len(fast.bodies), "slow": len(slow.bodies)}
    share = {name: count / max(1, sum(counts.values())) for name, count in counts.items()}
    print(f"  latency balancing: near {share['near']:.0%}, slow (+{args.slow_ms:g} ms) {share['slow']:.0%}")
    return {"counts": counts, "share": share, "slow_ms": args.slow_ms}


def report(
    rows: dict[str, dict[str, float]], machine: dict[str, float], balance: dict[str, Any], args: argparse.Namespace
) -> str:
    one, two = rows["1 replica"], rows["2 replicas"]
    ceiling = machine["2 processes"] / machine["1 process"]
    lines = [
        f"Cloud `{args.model}` on Ray Serve, 1 thread per replica; {args.clients} clients x {args.requests}"
        f" requests, {args.max_tokens} tokens each.",
        "",
        "| setup | tokens/s | p50 s | p95 s | client errors | answered by the edge |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for name, r in rows.items():
        label = name
        if name == "killed":  # say so when the kill did not happen (no replica was found)
            label = f"2 replicas, {'one killed' if r['killed'] else 'none killed'} at 1/3 (through an edge)"
        lines.append(f"| {label} | {r['tokens_per_s']:.1f} | {r['p50_s']:.2f} | {r['p95_s']:.2f} | {r['errors']}"
                     f" | {r['edge_finished']} |")  # fmt: skip
    lines += [
        "",
        f"Throughput, 2 replicas : 1 = **{two['tokens_per_s'] / one['tokens_per_s']:.2f}x** (goal 1.8x). The"
        f" machine without Ray or HTTP (plain llama.cpp decoding, one thread per process): 1 process"
        f" {machine['1 process']:.1f} tokens/s, 2 at once {machine['2 processes']:.1f}, **{ceiling:.2f}x**.",
        "",
        f"Latency balancing (two echo upstreams, one +{balance['slow_ms']:g} ms each way, {args.clients} clients):"
        f" near {balance['share']['near']:.0%}, slow {balance['share']['slow']:.0%} of"
        f" {sum(balance['counts'].values())} requests.",
    ]
    return "\n".join(lines)


def plot(rows: dict[str, dict[str, float]], machine: dict[str, float], path: Path) -> None:
    """Left: cloud tokens/s per Ray setup; right: the same model in plain processes (the ceiling)."""
    plt = pyplot()
    fig, (ray_ax, plain_ax) = plt.subplots(1, 2, figsize=(9, 3), sharey=True, gridspec_kw={"width_ratios": [3, 2]})
    labels = {"killed": "2, one killed"}
    ray_ax.bar([labels.get(n, n) for n in rows], [r["tokens_per_s"] for r in rows.values()], color="tab:blue")
    ray_ax.set(ylabel="completion tokens / s", title="cloud on Ray Serve (HTTP, 1 thread each)")
    plain_ax.bar(list(machine), list(machine.values()), color="tab:gray")
    plain_ax.set(title="plain llama.cpp, 1 thread each")
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="qwen2.5-coder-0.5b-instruct")
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--requests", type=int, default=6, help="per client")
    parser.add_argument("--max-tokens", type=int, default=32)
    parser.add_argument("--balance-requests", type=int, default=25, help="per client, latency balancing")
    parser.add_argument("--slow-ms", type=float, default=40.0)
    parser.add_argument("--port", type=int, default=8765, help="Serve's proxy (loopback)")
    parser.add_argument("--no-plot", action="store_true")
    parser.add_argument("--load", help=argparse.SUPPRESS)  # the load process: the URL it loads
    parser.add_argument("--load-model", default="default", help=argparse.SUPPRESS)
    parser.add_argument("--plain-decode", action="store_true", help=argparse.SUPPRESS)  # the machine part's child
    args = parser.parse_args()
    if args.load:
        print(json.dumps({"load": dataclasses.asdict(client_load(args.load, args))}), flush=True)
        return 0
    if args.plain_decode:
        print(plain_decode(args), flush=True)
        return 0
    print("the machine, without Ray:")
    machine = machine_part(args)
    with tempfile.TemporaryDirectory(prefix="edgesplit-scale-") as tmp:
        print("replicas:")
        rows = replicas_part(args, Path(tmp))
        print("balancing:")
        balance = latency_part(args, Path(tmp))
    text = report(rows, machine, balance, args)
    print("\n" + text)
    results = {"replicas": rows, "machine": machine, "balancing": balance, "args": vars(args)}
    write_result(OUT, "scale", text, results)
    if not args.no_plot:
        plot(rows, machine, OUT / "scale.png")
    print(f"\nwrote {OUT / 'scale.md'}, scale.json and scale.png")
    return 0


if __name__ == "__main__":
    sys.exit(main())
