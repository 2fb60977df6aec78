"""The gateway's own cost: what an edge adds over calling the upstream directly, with an echo upstream.

An echo upstream (its own process: answers a chat request by streaming the last user message
back in 8 chunks) and three edges in front of it (own processes: default settings;
``privacy_default=allow``; NER off). The client sends ``--requests`` requests per target,
interleaved (direct, each edge, direct, ...), non-streamed and forced to the cloud, so each
edge request crosses the whole request path (admit, classify, redact, dispatch, restore,
respond) and one upstream call. The overhead is the paired difference per round, as p50/p95.
Prints the table and writes bench/out/gateway.md, gateway.json and gateway.png.

    .venv/bin/python bench/gateway.py [--requests 200]
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path

import httpx

from edgesplit.evaluation.bench_report import pyplot, write_result

os.environ.setdefault("HF_HUB_OFFLINE", "1")

OUT = Path(__file__).parent / "out"
PROMPT = (
    "Please summarise the maintenance log for line 4: the conveyor stopped twice and was restarted by the operator."
)
EDGES = {
    "edge (default: redact, NER)": {},
    "edge, privacy_default=allow": {"EDGESPLIT_PRIVACY_DEFAULT": "allow"},
    "edge, NER off": {"EDGESPLIT_PRIVACY_NER": "false"},
}


def echo_app():  # type: ignore[no-untyped-def]
    """The echo upstream (Starlette): SSE for stream=true, a chat.completion otherwise."""
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import JSONResponse, Response, StreamingResponse
    from starlette.routing import Route

    async def chat(request: Request) -> Response:
        body = json.loads(await request.body())
        text = body["messages"][-1]["content"]
        if not body.get("stream"):
            message = {"role": "assistant", "content": text}
            choice = {"index": 0, "message": message, "finish_reason": "stop"}
            return JSONResponse({"id": "echo", "object": "chat.completion", "created": 0, "model": "echo",
                                 "choices": [choice], "usage": {"prompt_tokens": 1, "completion_tokens": 8,
                                                                "total_tokens": 9}})  # fmt: skip
        step = max(1, len(text) // 8)

        async def chunks():  # type: ignore[no-untyped-def]
            for i in range(0, len(text), step):
                delta = {"content": text[i : i + step]}
                yield f"data: {json.dumps({'choices': [{'index': 0, 'delta': delta, 'finish_reason': None}]})}\n\n"
            done = {"choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]}
            yield f"data: {json.dumps(done)}\n\ndata: [DONE]\n\n"

        return StreamingResponse(chunks(), media_type="text/event-stream")

    return Starlette(routes=[Route("/v1/chat/completions", chat, methods=["POST"])])


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait(url: str, proc: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{url} exited during start-up")
        try:
            httpx.get(url, timeout=1)
            return
        except httpx.HTTPError:
            time.sleep(0.1)
    raise RuntimeError(f"{url} did not start")


def start_echo() -> tuple[str, subprocess.Popen[bytes]]:
    port = _free_port()
    cmd = [sys.executable, __file__, "--serve-echo", str(port)]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    _wait(url, proc)
    return url, proc


def start_edge(upstream: str, env: dict[str, str], data_dir: Path) -> tuple[str, subprocess.Popen[bytes]]:
    port = _free_port()
    cmd = [sys.executable, "-m", "edgesplit", "serve", "--role", "edge", "--upstream", upstream, "--port", str(port)]
    full_env = {**os.environ, "EDGESPLIT_DATA_DIR": str(data_dir), "EDGESPLIT_LINK_PROBE_INTERVAL_S": "0", **env}
    proc = subprocess.Popen(cmd, env=full_env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    _wait(f"{url}/healthz", proc)
    return url, proc


def one(client: httpx.Client, url: str, model: str) -> float:
    body = {"model": model, "messages": [{"role": "user", "content": PROMPT}], "max_tokens": 32}
    start = time.perf_counter()
    response = client.post(f"{url}/v1/chat/completions", json=body)
    elapsed = time.perf_counter() - start
    response.raise_for_status()
    assert response.json()["choices"][0]["message"]["content"] == PROMPT, response.text
    return elapsed * 1000


def measure(echo: str, edges: dict[str, str], requests: int) -> dict[str, list[float]]:
    times: dict[str, list[float]] = {"direct": [], **{name: [] for name in edges}}
    with httpx.Client(timeout=30) as client:
        for _ in range(10):  # warm up every path
            one(client, echo, "echo")
            for url in edges.values():
                one(client, url, "edgesplit/cloud")
        for i in range(requests):
            order = [("direct", echo, "echo"), *((n, u, "edgesplit/cloud") for n, u in edges.items())]
            for name, url, model in order[i % len(order) :] + order[: i % len(order)]:  # rotate who goes first
                times[name].append(one(client, url, model))
    return times


def report(times: dict[str, list[float]]) -> tuple[str, dict[str, dict[str, float]]]:
    direct = times["direct"]
    rows: dict[str, dict[str, float]] = {}
    lines = ["| target | p50 ms | p95 ms | added p50 ms | added p95 ms |", "|---|---:|---:|---:|---:|"]
    for name, values in times.items():
        added = sorted(v - d for v, d in zip(values, direct, strict=True))
        ordered = sorted(values)
        rows[name] = {
            "p50_ms": statistics.median(ordered),
            "p95_ms": ordered[int(0.95 * (len(ordered) - 1))],
            "added_p50_ms": statistics.median(added),
            "added_p95_ms": added[int(0.95 * (len(added) - 1))],
        }
        r = rows[name]
        lines.append(
            f"| {name} | {r['p50_ms']:.2f} | {r['p95_ms']:.2f} | {r['added_p50_ms']:.2f} | {r['added_p95_ms']:.2f} |"
        )
    return "\n".join(lines), rows


def plot(rows: dict[str, dict[str, float]], path: Path) -> None:
    plt = pyplot()

    names = [n for n in rows if n != "direct"]
    fig, ax = plt.subplots(figsize=(7, 3.5))
    ax.barh(names, [rows[n]["added_p50_ms"] for n in names], color="tab:blue", label="p50")
    ax.set_xlabel("added latency over a direct upstream call (ms)")
    ax.set_title("edgesplit gateway overhead, echo upstream")
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=200, help="requests per target")
    parser.add_argument("--serve-echo", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve_echo:
        import uvicorn

        uvicorn.run(echo_app(), host="127.0.0.1", port=args.serve_echo, log_level="warning")
        return 0
    import tempfile

    procs: list[subprocess.Popen[bytes]] = []
    try:
        echo, proc = start_echo()
        procs.append(proc)
        edges = {}
        with tempfile.TemporaryDirectory(prefix="edgesplit-gateway-") as tmp:
            for i, (name, env) in enumerate(EDGES.items()):
                url, proc = start_edge(echo, env, Path(tmp) / str(i))
                procs.append(proc)
                edges[name] = url
            times = measure(echo, edges, args.requests)
    finally:
        for proc in procs:
            proc.terminate()
            proc.wait(timeout=20)
    text, rows = report(times)
    print(text)
    OUT.mkdir(exist_ok=True)
    write_result(OUT, "gateway", text, rows)
    plot(rows, OUT / "gateway.png")
    print(f"\nwrote {OUT / 'gateway.md'}, gateway.json and gateway.png")
    return 0


if __name__ == "__main__":
    sys.exit(main())
