"""Offline-first fault test and latency under link states, in one run.

1. Fault test: N deferred jobs are submitted to an edge whose link to the cloud is down;
   the link comes back; the edge process is SIGKILLed K times while it delivers and is
   restarted on the same data dir. At the end every job must be ``done`` with its answer
   retrievable, and the cloud must have completed each request exactly once (counted on the
   cloud side, per request body, so a job delivered under two keys would show).
2. Latency: p50/p95 of edge answers with the link up (lan), down and flaky, side by side,
   as ratios to "up".
3. Stream gaps under outbox load: the gaps between tokens of streamed edge answers, alone and
   while 1,000 batch jobs are being committed to the outbox (fsync) from 4 clients; p50/p99
   side by side, as ratios to the quiet run.

Both tiers serve SmolLM2 (the cloud's model is not what is measured). Exits 1 if any check
fails. Writes bench/results/offline.md and bench/results/offline.png.

    .venv/bin/python bench/offline.py [--jobs 1000] [--kills 3] [--requests 30] [--parts fault,latency,gaps]
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import httpx

os.environ.setdefault("HF_HUB_OFFLINE", "1")

from edgesplit.config import load_settings
from edgesplit.evaluation.bench_report import RESULTS, pyplot, write_result
from edgesplit.server import NodeServer, build_node
from edgesplit.transport.netem import LinkEmulator

MODEL = "smollm2-135m-instruct"
TOKEN = "bench-offline-token"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class EdgeProcess:
    """An edge node in its own process, so it can be SIGKILLed and restarted on the same data dir."""

    def __init__(self, upstream: str, data_dir: Path) -> None:
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = {
            **os.environ,
            "EDGESPLIT_UPSTREAM_TOKEN": TOKEN,
            "EDGESPLIT_DATA_DIR": str(data_dir),
            "EDGESPLIT_UPSTREAM_TIMEOUT_S": "2",
            "EDGESPLIT_OUTBOX_BACKOFF_S": "0.2",
            "EDGESPLIT_OUTBOX_MAX_BACKOFF_S": "2",
            "EDGESPLIT_OUTBOX_CONCURRENCY": "4",
            "EDGESPLIT_LINK_BACKOFF_S": "0.2",
            "EDGESPLIT_LINK_MAX_BACKOFF_S": "1",
            "EDGESPLIT_QUEUE_MAX_WAITING": "64",
            "EDGESPLIT_ROUTER_PACKAGED": "false",  # what is measured here is the outbox, not routing
        }
        self.cmd = [sys.executable, "-m", "edgesplit", "serve", "--role", "edge", "--upstream", upstream]
        self.cmd += ["--port", str(self.port)]
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.proc = subprocess.Popen(self.cmd, env=self.env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("edge process exited during start-up")
            try:
                if httpx.get(f"{self.url}/healthz", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                time.sleep(0.1)
        raise RuntimeError("edge did not become healthy")

    def kill(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=10)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=20)


@dataclass
class FaultReport:
    jobs: int
    kills: int
    done: int
    retrievable: int
    completed_once: int
    completed_twice_or_more: int
    cloud_runs: int
    cloud_replays: int
    seconds: float

    @property
    def ok(self) -> bool:
        return self.done == self.retrievable == self.completed_once == self.jobs and not self.completed_twice_or_more


def _counts(edge: EdgeProcess) -> dict[str, int]:
    response = httpx.get(f"{edge.url}/v1/jobs", params={"limit": "1"}, timeout=10)
    return dict(response.json()["counts"])


def fault_test(jobs: int, kills: int, cloud: NodeServer, link: LinkEmulator, workdir: Path) -> FaultReport:
    edge = EdgeProcess(link.url, workdir / "edge")
    edge.start()
    link.outage("refuse")
    ids = []
    with httpx.Client(base_url=edge.url, timeout=30) as client:
        for i in range(jobs):
            body = {
                "model": "edgesplit/cloud",
                "messages": [{"role": "user", "content": f"Repeat: {i}"}],
                "max_tokens": 3,
            }
            response = client.post("/v1/chat/completions", json=body, headers={"x-edgesplit-priority": "batch"})
            assert response.status_code == 202, response.text
            ids.append(response.json()["id"])
    print(f"  {jobs} jobs queued with the link down")
    start = time.perf_counter()
    link.restore()
    for k in range(1, kills + 1):
        target = jobs * k // (kills + 1)
        while _counts(edge).get("done", 0) < target:
            time.sleep(0.05)
        edge.kill()
        print(f"  SIGKILL {k} with {_counts_offline(workdir)} done; restarting")
        edge.start()
    deadline = time.monotonic() + max(120, jobs * 0.5)
    while _counts(edge).get("done", 0) < jobs and time.monotonic() < deadline:
        time.sleep(0.1)
    seconds = time.perf_counter() - start
    with httpx.Client(base_url=edge.url, timeout=30) as client:
        records = [client.get(f"/v1/jobs/{job_id}").json() for job_id in ids]
    edge.stop()
    results = cloud.node.results  # type: ignore[attr-defined]
    per_body = results.completed_per_digest()
    return FaultReport(
        jobs=jobs,
        kills=kills,
        done=sum(r["status"] == "done" for r in records),
        retrievable=sum(bool(r.get("result") and r["result"]["choices"][0]["message"]["content"]) for r in records),
        completed_once=sum(n == 1 for n in per_body.values()),
        completed_twice_or_more=sum(n > 1 for n in per_body.values()),
        cloud_runs=sum(results.runs().values()),
        cloud_replays=results.replays(),
        seconds=seconds,
    )


def _counts_offline(workdir: Path) -> int:
    import sqlite3

    with sqlite3.connect(workdir / "edge" / "outbox.sqlite") as conn:
        return int(conn.execute("SELECT COUNT(*) FROM jobs WHERE status = 'done'").fetchone()[0])


def latency(link: LinkEmulator, workdir: Path, requests: int) -> dict[str, dict[str, float]]:
    """p50/p95 seconds of edge answers per link state, for a forced-edge and an auto mix."""
    edge = EdgeProcess(link.url, workdir / "edge-latency")
    edge.start()
    table: dict[str, dict[str, float]] = {}
    try:
        with httpx.Client(base_url=edge.url, timeout=60) as client:
            for state in ("up", "down", "flaky"):
                link.set_profile({"up": "lan", "down": "down", "flaky": "flaky"}[state])
                for model in ("edgesplit/edge", "edgesplit/auto"):
                    times = []
                    for i in range(requests):
                        body = {
                            "model": model,
                            "messages": [{"role": "user", "content": f"Give me tip number {i} for a printer."}],
                            "max_tokens": 16,
                            "temperature": 0,
                        }
                        start = time.perf_counter()
                        response = client.post("/v1/chat/completions", json=body)
                        times.append(time.perf_counter() - start)
                        assert response.status_code == 200, response.text
                    times.sort()
                    table[f"{state} {model}"] = {
                        "p50": statistics.median(times),
                        "p95": times[max(0, round(0.95 * len(times)) - 1)],
                    }
                    print(f"  {state:5} {model:15} p50 {table[f'{state} {model}']['p50'] * 1000:.0f} ms")
    finally:
        edge.stop()
        link.set_profile("lan")
    return table


def _stream_gaps(url: str, stop: threading.Event | None, max_streams: int) -> list[float]:
    """Seconds between content chunks of streamed edge answers, until ``stop`` is set (or ``max_streams``)."""
    body = {
        "model": "edgesplit/edge",
        "messages": [{"role": "user", "content": "Write a long story about a printer that learns to sing."}],
        "max_tokens": 48,
        "temperature": 0,
        "stream": True,
    }
    gaps: list[float] = []
    for _ in range(max_streams):
        with httpx.stream("POST", f"{url}/v1/chat/completions", json=body, timeout=120) as response:
            last = None
            for line in response.iter_lines():
                if not line.startswith("data: {") or '"content"' not in line:
                    continue
                now = time.perf_counter()
                if last is not None:
                    gaps.append(now - last)
                last = now
        if stop is not None and stop.is_set():
            break
    return gaps


def _enqueue_jobs(url: str, jobs: int, clients: int) -> None:
    def one(i: int) -> None:
        body = {"model": "edgesplit/cloud", "messages": [{"role": "user", "content": f"Job {i}"}], "max_tokens": 3}
        response = httpx.post(
            f"{url}/v1/chat/completions", json=body, headers={"x-edgesplit-priority": "batch"}, timeout=60
        )
        assert response.status_code == 202, response.text

    with ThreadPoolExecutor(clients) as pool:
        list(pool.map(one, range(jobs)))


def stream_gaps(link: LinkEmulator, workdir: Path, jobs: int) -> dict[str, dict[str, float]]:
    """Token gaps of a streamed answer, quiet and while ``jobs`` batch jobs are committed (link down)."""
    edge = EdgeProcess(link.url, workdir / "edge-gaps")
    edge.start()
    link.outage("refuse")  # the jobs stay queued: only their commits load the edge
    table: dict[str, dict[str, float]] = {}
    try:
        _stream_gaps(edge.url, None, 1)  # warm up
        loaded: list[float] = []
        stop = threading.Event()
        streamer = threading.Thread(target=lambda: loaded.extend(_stream_gaps(edge.url, stop, 1000)))
        streamer.start()
        _enqueue_jobs(edge.url, jobs, clients=4)
        stop.set()
        streamer.join()
        streams = max(2, len(loaded) // 47)
        quiet = _stream_gaps(edge.url, None, streams)
        for name, gaps in (("quiet", quiet), (f"{jobs} jobs being queued", loaded)):
            gaps.sort()
            table[name] = {
                "p50": statistics.median(gaps),
                "p99": gaps[max(0, round(0.99 * len(gaps)) - 1)],
                "gaps": float(len(gaps)),
            }
            print(f"  {name:22} p50 {table[name]['p50'] * 1000:.1f} ms  p99 {table[name]['p99'] * 1000:.1f} ms")
    finally:
        edge.stop()
        link.restore()
    return table


def gaps_report(gaps: dict[str, dict[str, float]]) -> str:
    lines = ["| stream | gaps | p50 ms | p99 ms | p99 vs quiet |", "|---|---:|---:|---:|---:|"]
    base = gaps["quiet"]["p99"]
    for name, values in gaps.items():
        lines.append(
            f"| {name} | {values['gaps']:.0f} | {values['p50'] * 1000:.1f} | {values['p99'] * 1000:.1f} "
            f"| {values['p99'] / base:.2f}x |"
        )
    return "\n".join(lines)


def report(fault: FaultReport, lat: dict[str, dict[str, float]]) -> str:
    lines = [
        "| fault test | value |",
        "|---|---:|",
        f"| jobs queued with the link down | {fault.jobs} |",
        f"| SIGKILLs of the edge during delivery | {fault.kills} |",
        f"| jobs done | {fault.done} |",
        f"| results retrievable from the edge | {fault.retrievable} |",
        f"| requests the cloud completed exactly once | {fault.completed_once} |",
        f"| requests the cloud completed more than once | {fault.completed_twice_or_more} |",
        f"| model runs started on the cloud (incl. runs cut short) | {fault.cloud_runs} |",
        f"| redeliveries answered from the cloud's stored result | {fault.cloud_replays} |",
        f"| delivery time after the link returned | {fault.seconds:.1f} s |",
        f"| verdict | {'PASS' if fault.ok else 'FAIL'} |",
        "",
        "| link | route asked | p50 ms | p95 ms | p50 vs up |",
        "|---|---|---:|---:|---:|",
    ]
    for key, values in lat.items():
        state, model = key.split(" ", 1)
        base = lat[f"up {model}"]["p50"]
        lines.append(
            f"| {state} | {model} | {values['p50'] * 1000:.0f} | {values['p95'] * 1000:.0f} "
            f"| {values['p50'] / base:.2f}x |"
        )
    return "\n".join(lines)


def plot(lat: dict[str, dict[str, float]], path: Path) -> None:
    plt = pyplot()

    fig, ax = plt.subplots(figsize=(7, 4))
    states = ["up", "down", "flaky"]
    for offset, model in ((-0.2, "edgesplit/edge"), (0.2, "edgesplit/auto")):
        ax.bar([i + offset for i in range(3)], [lat[f"{s} {model}"]["p50"] * 1000 for s in states], 0.4, label=model)
    ax.set_xticks(range(3), states)
    ax.set_ylabel("p50 latency (ms)")
    ax.set_title("Edge answers by link state (SmolLM2, 16 tokens)")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=1000)
    parser.add_argument("--kills", type=int, default=3)
    parser.add_argument("--requests", type=int, default=30, help="requests per link state and route")
    parser.add_argument("--parts", default="fault,latency,gaps", help="comma-separated: fault, latency, gaps")
    parser.add_argument("--no-plot", action="store_true")
    parser.add_argument("--out", type=Path, default=RESULTS, help="where the result goes (tests: a temporary folder)")
    args = parser.parse_args()
    parts = set(args.parts.split(","))
    fault, lat, gaps = None, None, None
    with tempfile.TemporaryDirectory(prefix="edgesplit-offline-") as tmp:
        workdir = Path(tmp)
        settings = load_settings(
            role="cloud", port=0, model=MODEL, api_token=TOKEN, data_dir=workdir / "cloud", queue_max_waiting=64
        )
        with NodeServer(build_node(settings)) as cloud:
            port = int(cloud.url.rsplit(":", 1)[1])
            with LinkEmulator("127.0.0.1", port, "lan") as link:
                if "fault" in parts:
                    print("fault test:")
                    fault = fault_test(args.jobs, args.kills, cloud, link, workdir)
                if "latency" in parts:
                    print("latency:")
                    lat = latency(link, workdir, args.requests)
                if "gaps" in parts:
                    print("stream gaps under outbox load:")
                    gaps = stream_gaps(link, workdir, args.jobs)
    sections = []
    if fault is not None and lat is not None:
        sections.append(report(fault, lat))
    if gaps is not None:
        sections.append(gaps_report(gaps))
    text = "\n\n".join(sections)
    print()
    print(text)
    args.out.mkdir(exist_ok=True)
    stem = f"offline{'' if parts >= {'fault', 'latency', 'gaps'} else '-' + '-'.join(sorted(parts))}"
    write_result(args.out, stem, text, {"fault": fault, "latency": lat, "gaps": gaps})
    if lat is not None and not args.no_plot:
        plot(lat, args.out / "offline.png")
    ok = fault is None or fault.ok
    if fault is not None:
        print(f"\nfault test: {'PASS' if fault.ok else 'FAIL'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
