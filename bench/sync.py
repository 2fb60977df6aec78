"""Sync benchmark: rolling bundles out to many edges over emulated links, resume, and hot swaps.

1. Rollout: N edges (default 10), each behind its own link emulator to one cloud, pull a new
   router bundle, then a new edge model bundle (SmolLM2, 98 MB), per link profile. Time (p50 and
   slowest edge) and bytes over the link per edge, side by side with the lan profile as ratios.
2. Resume: one edge's model download cut at 50%, then pulled again: bytes over the link with
   Range resume against starting over (same run, same cut), as a ratio.
3. Hot swap under load: 2 clients stream edge answers without pause while the edge swaps its
   model K times. Requests dropped (goal: 0) and the p50 latency during swaps as a ratio to before.
4. A year: weekly publishes, one rotation, daily pulls under a simulated clock (bench/sync_year.py).

Every edge, the cloud and the link emulators are the real ones, in this process, on loopback.
Writes bench/results/sync.md, sync.json and sync.png.

    .venv/bin/python bench/sync.py [--edges 10] [--profiles 4g,satellite] [--swaps 3] [--parts rollout,resume,swap,year]
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path
from typing import Any

import httpx

os.environ.setdefault("HF_HUB_OFFLINE", "1")

from edgesplit.cloud.repository import BundleSpec, SyncRepository, TierSpec
from edgesplit.config import load_settings
from edgesplit.edge.bundles import BundleStore
from edgesplit.edge.sync import SyncClient
from edgesplit.errors import BundleRejected
from edgesplit.evaluation.bench_report import RESULTS, pyplot, write_result
from edgesplit.models import locate_model
from edgesplit.routing.learned import packaged_router
from edgesplit.server import NodeServer, build_node
from edgesplit.sync.keys import init_keys
from edgesplit.transport.netem import PROFILES, LinkEmulator
from edgesplit.transport.upstream import bearer_headers
from sync_year import simulate_year

OUT = RESULTS  # committed (bench/results); bench/out is scratch
MODEL = "smollm2-135m-instruct"
TOKEN = "bench-sync-token"


ADMIN_TOKEN = "bench-admin-token"  # the edges' admin_token, for their sync pull route


def start_cloud(work: Path, keys: Path) -> NodeServer:
    settings = load_settings(
        role="cloud", port=0, model=MODEL, api_token=TOKEN, data_dir=work / "cloud", sync_keys_dir=keys
    )
    return NodeServer(build_node(settings)).start()


def start_edge(upstream: str, keys: Path, data_dir: Path) -> NodeServer:
    settings = load_settings(
        role="edge", port=0, model=MODEL, upstream=upstream, upstream_token=TOKEN, data_dir=data_dir,
        sync_root=keys / "root.json", sync_interval_s=0, link_probe_interval_s=0,
        admin_token=ADMIN_TOKEN, router_packaged=False,
    )  # fmt: skip
    return NodeServer(build_node(settings)).start()


def router_bundle(work: Path, version_hint: int) -> BundleSpec:
    policy = work / f"policy-{version_hint}.toml"
    policy.write_text(f'privacy_deny_list = ["Project {version_hint}"]\n')
    router = packaged_router(MODEL)
    assert router is not None
    return BundleSpec(tiers={"device": TierSpec(model_name=MODEL, router=router)}, policy=policy)


def model_bundle() -> BundleSpec:
    return BundleSpec(tiers={"device": TierSpec(model=locate_model(MODEL), model_name=MODEL)})


def pull(edge: NodeServer) -> tuple[float, int]:
    """(seconds, bytes over the link) of one pull through the edge's own API."""
    before = httpx.get(f"{edge.url}/v1/sync/status").json()["bytes"]["wire"]
    start = time.perf_counter()
    reply = httpx.post(f"{edge.url}/v1/sync/pull", headers=bearer_headers(ADMIN_TOKEN), timeout=3600)
    elapsed = time.perf_counter() - start
    reply.raise_for_status()
    return elapsed, reply.json()["bytes"]["wire"] - before


def rollout(work: Path, keys: Path, cloud: NodeServer, profile: str, edges: int) -> dict[str, Any]:
    host, port = cloud.url.removeprefix("http://").split(":")
    links = [LinkEmulator(host, int(port), profile).start() for _ in range(edges)]
    nodes = [start_edge(link.url, keys, work / f"{profile}-edge{i}") for i, link in enumerate(links)]
    repo: SyncRepository = cloud.node.repository  # type: ignore[attr-defined]
    result: dict[str, Any] = {"profile": profile, "edges": edges}
    try:
        for payload, spec in (("router", router_bundle(work, len(list(repo.metadata_dir.glob("*.targets.json"))))),
                              ("model", model_bundle())):  # fmt: skip
            version = repo.publish(spec).version
            with ThreadPoolExecutor(edges) as pool:
                timings = list(pool.map(pull, nodes))
            served = [httpx.get(f"{n.url}/v1/sync/status").json()["current"] for n in nodes]
            seconds = [t for t, _ in timings]
            result[payload] = {
                "p50_s": statistics.median(seconds),
                "max_s": max(seconds),
                "bytes_per_edge": statistics.median(b for _, b in timings),
                "all_on_version": all(v == version for v in served),
            }
            row = result[payload]
            print(f"  {profile:10s} {payload:6s} p50 {row['p50_s']:7.1f} s, slowest {row['max_s']:7.1f} s, "
                  f"{row['bytes_per_edge'] / 1e3:10.1f} kB per edge", flush=True)  # fmt: skip
    finally:
        for node in nodes:
            node.stop()
        for link in links:
            link.stop()
    return result


def _cut_and_resume(work: Path, keys: Path, cloud: NodeServer, resume: bool) -> int:
    """Bytes over the link to get the model bundle when the link is cut at 50% once."""
    host, port = cloud.url.removeprefix("http://").split(":")
    profile = replace(PROFILES["4g"], bandwidth_mbps=100)
    length = locate_model(MODEL).stat().st_size
    store = BundleStore(work / f"resume-{resume}")
    with LinkEmulator(host, int(port), profile) as link:
        client = SyncClient(store, link.url, TOKEN, (keys / "root.json").read_bytes(), "device")
        watcher = threading.Thread(target=_cut_at, args=(link, store.partial_dir, length // 2), daemon=True)
        watcher.start()
        try:
            client.pull(None)
            raise RuntimeError("the cut did not happen")
        except BundleRejected:
            pass
        watcher.join()
        link.restore()
        if not resume:
            client.fetcher.discard_partials()  # what a fetcher without Range does: start over
        assert client.pull(None) is not None
        client.close()
    return client.fetcher.stats.wire_bytes


def _cut_at(link: LinkEmulator, partial_dir: Path, at_bytes: int) -> None:
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline:
        if sum(p.stat().st_size for p in partial_dir.glob("*.part")) >= at_bytes:
            link.outage("cut")
            return
        time.sleep(0.005)


def resume_savings(work: Path, keys: Path, cloud: NodeServer) -> dict[str, Any]:
    cloud.node.repository.publish(model_bundle())  # type: ignore[attr-defined]
    with_resume = _cut_and_resume(work, keys, cloud, resume=True)
    without = _cut_and_resume(work, keys, cloud, resume=False)
    length = locate_model(MODEL).stat().st_size
    print(f"  resume: {with_resume / 1e6:.1f} MB over the link, {without / 1e6:.1f} MB starting over "
          f"(file {length / 1e6:.1f} MB)", flush=True)  # fmt: skip
    return {"file_bytes": length, "with_resume_bytes": with_resume, "without_resume_bytes": without}


def _client_loop(url: str, stop: threading.Event, latencies: list[tuple[float, float]], failures: list[str]) -> None:
    body = {"model": "edgesplit/edge", "messages": [{"role": "user", "content": "Name a colour."}],
            "max_tokens": 12, "temperature": 0, "stream": True}  # fmt: skip
    with httpx.Client(timeout=60) as client:
        while not stop.is_set():
            start = time.perf_counter()
            try:
                with client.stream("POST", f"{url}/v1/chat/completions", json=body) as response:
                    lines = [line for line in response.iter_lines() if line]
                if response.status_code != 200 or lines[-1] != "data: [DONE]":
                    failures.append(f"status {response.status_code}")
            except httpx.HTTPError as exc:
                failures.append(type(exc).__name__)
            latencies.append((time.monotonic(), time.perf_counter() - start))


def swap_under_load(work: Path, keys: Path, cloud: NodeServer, swaps: int) -> dict[str, Any]:
    edge = start_edge(cloud.url, keys, work / "swap-edge")
    stop, latencies, failures = threading.Event(), [], []
    clients = [threading.Thread(target=_client_loop, args=(edge.url, stop, latencies, failures)) for _ in range(2)]
    for thread in clients:
        thread.start()
    time.sleep(5)
    swap_windows = []
    for _ in range(swaps):
        cloud.node.repository.publish(model_bundle())  # type: ignore[attr-defined]
        start = time.monotonic()
        pull(edge)
        time.sleep(2)  # the replaced model is closed after its last request
        swap_windows.append((start, time.monotonic()))
    time.sleep(3)
    stop.set()
    for thread in clients:
        thread.join()
    edge.stop()
    during = [lat for at, lat in latencies if any(a <= at <= b for a, b in swap_windows)]
    before = [lat for at, lat in latencies if at < swap_windows[0][0]]
    result = {
        "swaps": swaps,
        "requests": len(latencies),
        "dropped": len(failures),
        "failures": failures[:10],
        "p50_before_ms": statistics.median(before) * 1000,
        "p50_during_swaps_ms": statistics.median(during) * 1000 if during else None,
    }
    print(f"  hot swap: {result['requests']} requests, {result['dropped']} dropped over {swaps} swaps", flush=True)
    return result


def report(results: dict[str, Any]) -> str:
    lines = ["# Sync benchmark (bench/sync.py)", ""]
    if rollouts := results.get("rollout"):
        base = next((r for r in rollouts if r["profile"] == "lan"), None)
        lines += ["| link | payload | edges | p50 s | slowest s | kB per edge | p50 vs lan | all on the new version |",
                  "|---|---|---:|---:|---:|---:|---:|---|"]  # fmt: skip
        for r in rollouts:
            for payload in ("router", "model"):
                row = r[payload]
                ratio = f"{row['p50_s'] / base[payload]['p50_s']:.1f}x" if base else "-"
                lines.append(f"| {r['profile']} | {payload} | {r['edges']} | {row['p50_s']:.1f} | {row['max_s']:.1f} | "
                             f"{row['bytes_per_edge'] / 1e3:.1f} | {ratio} | {row['all_on_version']} |")  # fmt: skip
        lines.append("")
    if resume := results.get("resume"):
        ratio = resume["with_resume_bytes"] / resume["without_resume_bytes"]
        lines += ["| cut at 50%, then pulled again | MB over the link | vs starting over |", "|---|---:|---:|",
                  f"| Range resume | {resume['with_resume_bytes'] / 1e6:.1f} | {ratio:.2f}x |",
                  f"| starting over | {resume['without_resume_bytes'] / 1e6:.1f} | 1.00x |", ""]  # fmt: skip
    if swap := results.get("swap"):
        during = swap["p50_during_swaps_ms"]
        ratio = f"{during / swap['p50_before_ms']:.2f}x" if during else "-"
        lines += ["| hot swaps under load | requests | dropped | p50 before | p50 during swaps |",
                  "|---|---:|---:|---:|---:|",
                  f"| {swap['swaps']} model swaps, 2 streaming clients | {swap['requests']} | {swap['dropped']} | "
                  f"{swap['p50_before_ms']:.0f} ms | {during or 0:.0f} ms ({ratio}) |", ""]  # fmt: skip
    if year := results.get("year"):
        lines += ["| a year of simulated clock | days | publishes | rotations | pulls | attacks | "
                  "refused, should pass | accepted, should fail |", "|---|---:|---:|---:|---:|---:|---:|---:|",
                  f"| weekly publish, daily pull, keeper ticks daily | {year['days']} | {year['publishes']} | "
                  f"{year['rotations']} | {year['pulls']} | {year['attacks']} | {year['wrongly_refused']} | "
                  f"{year['wrongly_accepted']} |", ""]  # fmt: skip
        if year["refusals"]:
            lines += ["Refused that should have passed: " + "; ".join(year["refusals"]), ""]
    return "\n".join(lines)


def plot(results: dict[str, Any], path: Path) -> None:
    plt = pyplot()

    rollouts = results.get("rollout", [])
    if not rollouts:
        return
    fig, axes = plt.subplots(1, 2, figsize=(9, 3.5))
    for ax, payload in zip(axes, ("router", "model"), strict=True):
        names = [r["profile"] for r in rollouts]
        ax.bar(names, [r[payload]["p50_s"] for r in rollouts], label="p50 edge")
        ax.scatter(names, [r[payload]["max_s"] for r in rollouts], color="black", label="slowest edge", zorder=3)
        ax.set_title(f"new {payload} to {rollouts[0]['edges']} edges")
        ax.set_ylabel("seconds")
        ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--edges", type=int, default=10)
    parser.add_argument("--profiles", default="lan,4g,satellite")
    parser.add_argument("--swaps", type=int, default=3)
    parser.add_argument("--parts", default="rollout,resume,swap,year")
    args = parser.parse_args()
    parts = set(args.parts.split(","))
    OUT.mkdir(exist_ok=True)
    results: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="edgesplit-bench-sync-") as tmp:
        work = Path(tmp)
        keys = work / "keys"
        init_keys(keys)
        cloud = start_cloud(work, keys)
        try:
            if "rollout" in parts:
                results["rollout"] = [rollout(work, keys, cloud, p, args.edges) for p in args.profiles.split(",")]
            if "resume" in parts:
                results["resume"] = resume_savings(work, keys, cloud)
            if "swap" in parts:
                results["swap"] = swap_under_load(work, keys, cloud, args.swaps)
            if "year" in parts:
                year_keys = work / "year-keys"
                init_keys(year_keys)
                year_cloud = start_cloud(work / "year", year_keys)
                try:
                    results["year"] = simulate_year(work, year_keys, year_cloud, TOKEN, router_bundle)
                finally:
                    year_cloud.stop()
        finally:
            cloud.stop()
    text = report(results)
    write_result(OUT, "sync", text, results)
    plot(results, OUT / "sync.png")
    print(text)


if __name__ == "__main__":
    main()
