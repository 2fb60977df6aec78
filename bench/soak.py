"""Soak test: a device → local → cloud chain under bounded load for a fixed time, the link flapping.

Each tier is its own ``edgesplit serve`` process; the link between the local tier and the cloud
is a user-space emulator that cycles up (lan) → flaky → down (open connections cut) every
``--flap-s`` seconds. A second
process (this script with ``--load``) sends a bounded mix to the device: streamed and plain
answers (``edgesplit/auto``), batch jobs (through the outbox, delivered exactly once by the local
tier's result store) and messages with PII sent to the cloud. At the end the link comes back,
deferred jobs get up to ``--drain-s`` to finish, and the report gives:

- requests sent, answered (200), deferred (202) and **lost** (anything else: an error status, a
  broken connection, a deferred job that never finished); goal 0;
- RSS per node at the start (after warm-up) and the end; goal flat within 10%;
- p50 and p99 latency per serving tier and route;
- jobs delivered exactly once (the local tier's result store, per request body).

Writes bench/results/soak.md, soak.json and soak.png (RSS over time). Exits 1 if a goal is missed.

    .venv/bin/python bench/soak.py [--seconds 600] [--flap-s 30] [--rate 1.0] [--ladder]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import psutil

os.environ.setdefault("HF_HUB_OFFLINE", "1")

from edgesplit.evaluation.bench_report import RESULTS, pyplot, write_result
from edgesplit.http.results import ResultStore
from edgesplit.transport.netem import LinkEmulator

SMALL = "smollm2-135m-instruct"
TOKENS = {"cloud": "soak-cloud-token", "local": "soak-local-token"}
PII = "Patient Ana Lima, CPF 529.982.247-25, phone +55 11 98765-4321, asks about her refill #{i}."
PLAIN = "How do I restart the scanner on line {i}? Answer in one sentence."
KINDS = ("stream", "plain", "batch", "pii")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Tier:
    """One ``edgesplit serve`` process."""

    def __init__(self, role: str, data_dir: Path, env: dict[str, str]) -> None:
        self.role = role
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = {**os.environ, "EDGESPLIT_DATA_DIR": str(data_dir), "EDGESPLIT_ROUTER_PACKAGED": "true", **env}
        self.cmd = [sys.executable, "-m", "edgesplit", "serve", "--role", role, "--port", str(self.port)]
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> Tier:
        self.proc = subprocess.Popen(self.cmd, env=self.env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"the {self.role} tier exited during start-up")
            try:
                if httpx.get(f"{self.url}/healthz", timeout=1).status_code == 200:
                    return self
            except httpx.HTTPError:
                time.sleep(0.2)
        raise RuntimeError(f"the {self.role} tier did not become healthy")

    def rss_mib(self) -> float:
        assert self.proc is not None
        return psutil.Process(self.proc.pid).memory_info().rss / 2**20

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=30)


def start_chain(workdir: Path, ladder: bool) -> tuple[Tier, Tier, Tier, LinkEmulator]:
    small = {} if ladder else {"EDGESPLIT_MODEL": SMALL}  # the default: SmolLM2 at every tier
    common = {"EDGESPLIT_UPSTREAM_TIMEOUT_S": "5", "EDGESPLIT_LINK_BACKOFF_S": "0.5",
              "EDGESPLIT_LINK_MAX_BACKOFF_S": "4", "EDGESPLIT_OUTBOX_BACKOFF_S": "0.5",
              "EDGESPLIT_OUTBOX_MAX_BACKOFF_S": "4", "EDGESPLIT_QUEUE_MAX_WAITING": "64"}  # fmt: skip
    cloud_env = {"EDGESPLIT_API_TOKEN": TOKENS["cloud"], **small}
    cloud = Tier("cloud", workdir / "cloud", cloud_env).start()
    link = LinkEmulator("127.0.0.1", cloud.port).start()
    local_env = {**common, "EDGESPLIT_API_TOKEN": TOKENS["local"], "EDGESPLIT_UPSTREAM": link.url,
                 "EDGESPLIT_UPSTREAM_TOKEN": TOKENS["cloud"], **small}  # fmt: skip
    local = Tier("local", workdir / "local", local_env).start()
    device_env = {**common, "EDGESPLIT_UPSTREAM": local.url, "EDGESPLIT_UPSTREAM_TOKEN": TOKENS["local"],
                  "EDGESPLIT_UPSTREAM_SCOPE": "site"}  # fmt: skip
    device = Tier("edge", workdir / "device", device_env).start()
    return cloud, local, device, link


# -- the load: a second process ------------------------------------------------------------------


def _one(client: httpx.Client, kind: str, i: int, max_tokens: int) -> dict[str, Any]:
    text = (PII if kind == "pii" else PLAIN).format(i=i)
    body: dict[str, Any] = {"model": "edgesplit/cloud" if kind == "pii" else "edgesplit/auto",
                            "messages": [{"role": "user", "content": text}], "max_tokens": max_tokens}  # fmt: skip
    headers = {"x-edgesplit-priority": "batch"} if kind == "batch" else {}
    start = time.perf_counter()
    record: dict[str, Any] = {"kind": kind, "i": i}
    try:
        if kind == "stream":
            with client.stream("POST", "/v1/chat/completions", json={**body, "stream": True}) as r:
                lines = [line for line in r.iter_lines() if line.startswith("data: ")]
                record["status"] = r.status_code if lines and lines[-1] == "data: [DONE]" else -1
                final = next((json.loads(x[6:]) for x in reversed(lines[:-1]) if '"edgesplit"' in x), None)
                meta = (final or {}).get("edgesplit") or {}
        else:
            r = client.post("/v1/chat/completions", json=body, headers=headers)
            record["status"] = r.status_code
            payload = r.json()
            meta = payload.get("edgesplit") or {}
            record["job"] = payload.get("id") if r.status_code == 202 else None
    except (httpx.HTTPError, ValueError) as exc:
        record["status"], record["error"] = -1, type(exc).__name__
        meta = {}
    record["ms"] = (time.perf_counter() - start) * 1000
    served = next((h for h in meta.get("hops", []) if h.get("served")), None)
    record["where"] = f"{served['tier']}/{meta.get('route')}" if served else str(meta.get("route"))
    return record


def run_load(url: str, seconds: float, rate: float, max_tokens: int, out: Path) -> None:
    """Send up to ``rate`` requests a second, two in flight at most, for ``seconds``; one JSON line each.

    A request waits for a free slot rather than queueing: the load stays bounded when answers are
    slower than the rate, and every request sent is written down, whatever became of it."""
    rng = random.Random(7)
    deadline = time.monotonic() + seconds
    slots = threading.Semaphore(2)
    lock = threading.Lock()
    with out.open("w") as sink, httpx.Client(base_url=url, timeout=120) as client, ThreadPoolExecutor(2) as pool:

        def send(kind: str, i: int) -> None:
            try:
                record = _one(client, kind, i, max_tokens)
            except Exception as exc:  # a request the bench could not even make is lost, not hidden
                record = {"kind": kind, "i": i, "status": -1, "error": repr(exc), "ms": 0.0, "where": "none"}
            finally:
                slots.release()
            with lock:
                sink.write(json.dumps(record) + "\n")
                sink.flush()

        i = 0
        while time.monotonic() < deadline:
            slots.acquire()
            pool.submit(send, rng.choice(KINDS), i)
            i += 1
            time.sleep(1 / rate)


# -- the run -------------------------------------------------------------------------------------


def flap(link: LinkEmulator, period_s: float, stop: threading.Event, log: list[tuple[float, str]]) -> None:
    states = ("lan", "flaky", "down")
    k = 0
    while not stop.wait(period_s if k else 0):
        state = states[k % len(states)]
        if state == "down":
            link.outage("cut")  # open streams break too, not only new connections
        else:
            link.set_profile(state)
        log.append((time.time(), state))
        k += 1
    link.set_profile("lan")


def _jobs_done(device: Tier, ids: list[str]) -> dict[str, str]:
    with httpx.Client(base_url=device.url, timeout=30) as client:
        return {job: client.get(f"/v1/jobs/{job}").json().get("status", "?") for job in ids}


def soak(args: argparse.Namespace) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        cloud, local, device, link = start_chain(workdir, args.ladder)
        tiers = {"device": device, "local": local, "cloud": cloud}
        try:
            httpx.post(f"{device.url}/v1/chat/completions", timeout=300,
                       json={"model": "edgesplit/cloud", "messages": [{"role": "user", "content": "warm up"}],
                             "max_tokens": 4})  # fmt: skip
            rss: dict[str, list[tuple[float, float]]] = {name: [] for name in tiers}
            stop, flaps = threading.Event(), []
            flapper = threading.Thread(target=flap, args=(link, args.flap_s, stop, flaps), daemon=True)
            flapper.start()
            records_path = workdir / "load.jsonl"
            load = subprocess.Popen([sys.executable, __file__, "--load", device.url, "--seconds", str(args.seconds),
                                     "--rate", str(args.rate), "--max-tokens", str(args.max_tokens),
                                     "--records", str(records_path)])  # fmt: skip
            while load.poll() is None:
                for name, tier in tiers.items():
                    rss[name].append((time.time(), tier.rss_mib()))
                time.sleep(min(10.0, args.seconds / 6))
            stop.set()
            flapper.join(timeout=10)
            records = [json.loads(line) for line in records_path.read_text().splitlines()]
            ids = [r["job"] for r in records if r.get("job")]
            deadline = time.monotonic() + args.drain_s
            statuses = _jobs_done(device, ids)
            while any(s != "done" for s in statuses.values()) and time.monotonic() < deadline:
                time.sleep(1)
                statuses = _jobs_done(device, ids)
            for name, tier in tiers.items():
                rss[name].append((time.time(), tier.rss_mib()))
        finally:
            for tier in (device, local, cloud):
                tier.stop()
            link.stop()
        store = ResultStore(workdir / "local" / "results.sqlite")
        per_body = store.completed_per_digest()
        store.close()
    return {"args": vars(args), "records": records, "jobs": statuses, "rss": rss, "flaps": flaps,
            "delivered_per_body": sorted(per_body.values())}  # fmt: skip


def summarise(run: dict[str, Any]) -> dict[str, Any]:
    records, jobs = run["records"], run["jobs"]
    answered = sum(r["status"] == 200 for r in records)
    deferred = sum(r["status"] == 202 for r in records)
    unfinished = sum(s != "done" for s in jobs.values())
    lost = len(records) - answered - deferred + unfinished
    by_where: dict[str, list[float]] = {}
    for r in records:
        if r["status"] == 200:
            by_where.setdefault(f"{r['kind']} @ {r['where']}", []).append(r["ms"])
    latency = {w: {"n": len(v), "p50_ms": statistics.median(v), "p99_ms": _p99(v)} for w, v in sorted(by_where.items())}
    rss = {
        n: {"start_mib": v[0][1], "end_mib": v[-1][1], "growth": v[-1][1] / v[0][1] - 1} for n, v in run["rss"].items()
    }
    once = run["delivered_per_body"]
    return {"sent": len(records), "answered": answered, "deferred": deferred, "unfinished_jobs": unfinished,
            "lost": lost, "errors": [r for r in records if r["status"] not in (200, 202)][:10],
            "jobs_delivered_once": sum(n == 1 for n in once), "jobs_delivered_twice_or_more": sum(n > 1 for n in once),
            "latency": latency, "rss": rss, "flaps": len(run["flaps"])}  # fmt: skip


def _p99(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(0.99 * len(ordered)))]


def report(s: dict[str, Any], args: argparse.Namespace) -> str:
    lines = [f"# Soak: device → local → cloud, {args.seconds:g} s at {args.rate:g} requests/s, the link flapping "
             f"lan → flaky → down every {args.flap_s:g} s ({s['flaps']} changes)", "",
             "| requests | n |", "|---|---:|"]  # fmt: skip
    for key in ("sent", "answered", "deferred", "unfinished_jobs", "lost", "jobs_delivered_once",
                "jobs_delivered_twice_or_more"):  # fmt: skip
        lines.append(f"| {key.replace('_', ' ')} | {s[key]} |")
    lines += ["", "| node | RSS start MiB | RSS end MiB | growth |", "|---|---:|---:|---:|"]
    lines += [f"| {n} | {v['start_mib']:.0f} | {v['end_mib']:.0f} | {v['growth']:+.1%} |" for n, v in s["rss"].items()]
    lines += ["", "| request @ served by / route | n | p50 ms | p99 ms |", "|---|---:|---:|---:|"]
    lines += [f"| {w} | {v['n']} | {v['p50_ms']:.0f} | {v['p99_ms']:.0f} |" for w, v in s["latency"].items()]
    return "\n".join(lines)


def plot(rss: dict[str, list[tuple[float, float]]], path: Path) -> None:
    plt = pyplot()

    fig, ax = plt.subplots(figsize=(8, 3.5))
    for name, points in rss.items():
        t0 = points[0][0]
        ax.plot([t - t0 for t, _ in points], [m for _, m in points], marker="o", label=name)
    ax.set_xlabel("seconds")
    ax.set_ylabel("RSS MiB")
    ax.set_title("RSS per node during the soak")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=600)
    parser.add_argument("--flap-s", type=float, default=30)
    parser.add_argument("--rate", type=float, default=1.0, help="requests per second from the load process")
    parser.add_argument("--max-tokens", type=int, default=16)
    parser.add_argument("--drain-s", type=float, default=180, help="time for deferred jobs once the load ends")
    parser.add_argument("--ladder", action="store_true", help="the real ladder models instead of SmolLM2 everywhere")
    parser.add_argument("--load", help=argparse.SUPPRESS)  # the load process: the device's URL
    parser.add_argument("--records", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, default=RESULTS, help="where the result goes (tests: a temporary folder)")
    args = parser.parse_args()
    if args.load:
        run_load(args.load, args.seconds, args.rate, args.max_tokens, args.records)
        return 0
    run = soak(args)
    summary = summarise(run)
    text = report(summary, args)
    print(text)
    write_result(args.out, "soak", text, {"summary": summary, "flaps": run["flaps"], "rss": run["rss"]})
    plot(run["rss"], args.out / "soak.png")
    rss_ok = all(v["growth"] <= 0.10 for v in summary["rss"].values())
    ok = summary["lost"] == 0 and summary["jobs_delivered_twice_or_more"] == 0 and rss_ok
    print(f"\nsoak: {'PASS' if ok else 'FAIL'} (lost {summary['lost']}, RSS flat within 10%: {rss_ok})")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
