"""The gateway's own cost: what an edge adds over calling the upstream directly, with an echo upstream.

An echo upstream (its own process: answers a chat request by streaming the last user message
back in 8 chunks) and three edges in front of it (own processes: default settings;
``privacy_default=allow``; NER off). The client sends ``--requests`` requests per target,
interleaved (direct, each edge, direct, ...), non-streamed and forced to the cloud, so each
edge request crosses the whole request path (admit, classify, redact, dispatch, restore,
respond) and one upstream call. The overhead is the paired difference per round, as p50/p95/p99.

Two references run in the same rounds: a bare proxy (Starlette + httpx under the same uvicorn,
uvloop and httptools; it forwards the bytes and does nothing else), the least any Python
gateway built on these libraries costs; and, with ``--litellm PATH`` (the ``litellm`` command
of a venv with ``litellm[proxy]``), LiteLLM's proxy in front of the same echo. Where each
bar goes is bench/gateway_profile.py's question.
Prints the table and writes bench/results/gateway.md, gateway.json and gateway.png.

    .venv/bin/python bench/gateway.py [--requests 200] [--litellm /path/to/venv/bin/litellm]
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

from edgesplit.evaluation.bench_report import RESULTS, pyplot, write_result

os.environ.setdefault("HF_HUB_OFFLINE", "1")

OUT = RESULTS  # committed (bench/results); bench/out is scratch
PROMPT = (
    "Please summarise the maintenance log for line 4: the conveyor stopped twice and was restarted by the operator."
)
BARE = "bare proxy (Starlette + httpx)"
LITELLM = "LiteLLM proxy"
LITELLM_KEY = "sk-edgesplit-bench-0123456789abcdef"  # LiteLLM refuses to start without one
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


def proxy_app(upstream: str):  # type: ignore[no-untyped-def]
    """The bare proxy: the request's bytes to the upstream, its answer's bytes back, nothing else."""
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import Response, StreamingResponse
    from starlette.routing import Route

    client = httpx.AsyncClient(base_url=upstream, timeout=30)

    async def chat(request: Request) -> Response:
        sent = client.build_request("POST", "/v1/chat/completions", content=await request.body(),
                                    headers={"content-type": "application/json"})  # fmt: skip
        reply = await client.send(sent, stream=True)
        if reply.headers.get("content-type", "").startswith("text/event-stream"):
            return StreamingResponse(reply.aiter_raw(), media_type="text/event-stream", background=None)
        body = await reply.aread()
        await reply.aclose()
        return Response(body, status_code=reply.status_code, media_type="application/json")

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


def start_proxy(upstream: str) -> tuple[str, subprocess.Popen[bytes]]:
    port = _free_port()
    cmd = [sys.executable, __file__, "--serve-proxy", str(port), "--upstream", upstream]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    _wait(url, proc)
    return url, proc


def start_litellm(command: str, upstream: str, folder: Path) -> tuple[str, subprocess.Popen[bytes]]:
    """LiteLLM's proxy with one model, ``echo``, served by the echo upstream (OpenAI-compatible)."""
    port = _free_port()
    config = folder / "litellm.yaml"
    config.write_text(
        "model_list:\n  - model_name: echo\n    litellm_params:\n      model: openai/echo\n"
        f"      api_base: {upstream}/v1\n      api_key: unused\n"
        "litellm_settings:\n  telemetry: false\n  drop_params: true\n"
    )
    env = {**os.environ, "LITELLM_LOG": "ERROR", "LITELLM_TELEMETRY": "False", "NO_DOCS": "True",
           "LITELLM_MASTER_KEY": LITELLM_KEY}  # fmt: skip
    cmd = [command, "--config", str(config), "--host", "127.0.0.1", "--port", str(port), "--num_workers", "1"]
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    _wait(f"{url}/health/liveliness", proc)
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
    """One request's round trip in ms (and a check that it came back whole)."""
    body = {"model": model, "messages": [{"role": "user", "content": PROMPT}], "max_tokens": 32}
    headers = {"authorization": f"Bearer {LITELLM_KEY}"} if model == "echo" else {}  # only LiteLLM reads it
    start = time.perf_counter()
    response = client.post(f"{url}/v1/chat/completions", json=body, headers=headers)
    elapsed = time.perf_counter() - start
    response.raise_for_status()
    assert response.json()["choices"][0]["message"]["content"] == PROMPT, response.text
    return elapsed * 1000


def measure(echo: str, targets: dict[str, tuple[str, str]], requests: int) -> dict[str, list[float]]:
    """Round trips per target (name → url, model), interleaved; "direct" is the echo itself."""
    order = [("direct", echo, "echo"), *((name, url, model) for name, (url, model) in targets.items())]
    times: dict[str, list[float]] = {name: [] for name, _, _ in order}
    with httpx.Client(timeout=30) as client:
        for _ in range(10):  # warm up every path
            for _, url, model in order:
                one(client, url, model)
        for i in range(requests):
            for name, url, model in order[i % len(order) :] + order[: i % len(order)]:  # rotate who goes first
                times[name].append(one(client, url, model))
    return times


def report(times: dict[str, list[float]]) -> tuple[str, dict[str, dict[str, float]]]:
    direct = times["direct"]
    rows: dict[str, dict[str, float]] = {}
    floor = times.get(BARE)
    lines = [
        "| target | p50 ms | p99 ms | added p50 ms | added p95 ms | added p99 ms | added p50 / bare proxy's |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for name, values in times.items():
        added = sorted(v - d for v, d in zip(values, direct, strict=True))
        ordered = sorted(values)
        rows[name] = {
            "p50_ms": statistics.median(ordered),
            "p95_ms": _pct(ordered, 0.95),
            "p99_ms": _pct(ordered, 0.99),
            "added_p50_ms": statistics.median(added),
            "added_p95_ms": _pct(added, 0.95),
            "added_p99_ms": _pct(added, 0.99),
        }
        r = rows[name]
        ratio = ""
        if floor is not None and name != "direct":
            floor_added = statistics.median(sorted(v - d for v, d in zip(floor, direct, strict=True)))
            r["ratio_to_bare"] = r["added_p50_ms"] / floor_added if floor_added > 0 else float("nan")
            ratio = f"{r['ratio_to_bare']:.1f}x"
        lines.append(
            f"| {name} | {r['p50_ms']:.2f} | {r['p99_ms']:.2f} | {r['added_p50_ms']:.2f} | {r['added_p95_ms']:.2f} "
            f"| {r['added_p99_ms']:.2f} | {ratio} |"
        )
    return "\n".join(lines), rows


def _pct(ordered: list[float], q: float) -> float:
    return ordered[int(q * (len(ordered) - 1))]


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
    parser.add_argument("--litellm", help="the litellm command of a venv with litellm[proxy]: a reference row")
    parser.add_argument("--serve-echo", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--serve-proxy", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--upstream", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve_echo or args.serve_proxy:
        import uvicorn

        from edgesplit.server import UVICORN_IO  # the bare proxy runs on what the edges run on

        app = echo_app() if args.serve_echo else proxy_app(args.upstream)
        uvicorn.run(app, host="127.0.0.1", port=args.serve_echo or args.serve_proxy, log_level="warning", **UVICORN_IO)
        return 0
    import tempfile

    procs: list[subprocess.Popen[bytes]] = []
    try:
        echo, proc = start_echo()
        procs.append(proc)
        targets: dict[str, tuple[str, str]] = {}
        with tempfile.TemporaryDirectory(prefix="edgesplit-gateway-") as tmp:
            url, proc = start_proxy(echo)
            procs.append(proc)
            targets[BARE] = (url, "echo")
            if args.litellm:
                url, proc = start_litellm(args.litellm, echo, Path(tmp))
                procs.append(proc)
                targets[LITELLM] = (url, "echo")
            for i, (name, env) in enumerate(EDGES.items()):
                url, proc = start_edge(echo, env, Path(tmp) / str(i))
                procs.append(proc)
                targets[name] = (url, "edgesplit/cloud")
            times = measure(echo, targets, args.requests)
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
