"""Where the gateway's milliseconds go: the forced-to-upstream path under pyinstrument, stage by stage.

An echo upstream (its own process, bench/gateway.py's) and one edge served by uvicorn in this
process's main thread, so pyinstrument samples every coroutine of the request path. A client
thread sends ``--requests`` chat requests forced to the cloud, plain, then (a second run) streamed;
the profile covers only those, not the warm-up. Every sample's time goes to the innermost stage
on its stack (the table's rows, matched by module), so the rows add up to the profiled time;
"idle" is the event loop waiting on sockets (the echo's own time and the client's).

    .venv/bin/python bench/gateway_profile.py [--requests 300] [--ner/--no-ner]

Prints the table and writes bench/results/gateway_profile.md, .json; the pyinstrument HTML of each run goes to
bench/out.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import uvicorn

sys.path.insert(0, str(Path(__file__).parent))
from edgesplit.config import load_settings
from edgesplit.evaluation.bench_report import RESULTS, SCRATCH, write_result
from edgesplit.http.app import create_app
from edgesplit.server import UVICORN_IO, build_node
from gateway import PROMPT, start_echo

os.environ.setdefault("HF_HUB_OFFLINE", "1")
OUT = RESULTS  # committed (bench/results); bench/out is scratch

# (stage, path fragments of the modules that do its work), innermost match wins; order = table order
STAGES: list[tuple[str, tuple[str, ...]]] = [
    ("guard (auth, rate limit, body size)", ("edgesplit/http/guard.py", "edgesplit/http/auth.py",
                                             "edgesplit/http/ratelimit.py")),
    ("validation (body read, pydantic)", ("edgesplit/http/admit.py", "pydantic", "edgesplit/schemas.py")),
    ("privacy: NER (spaCy)", ("spacy", "thinc", "edgesplit/privacy/ner.py")),
    ("privacy: structured detectors, redact", ("edgesplit/privacy/",)),
    ("context check (chat template, tokenize)", ("edgesplit/llama/tokenizer.py", "jinja2", "llama_cpp")),
    ("routing and dispatch", ("edgesplit/edge/", "edgesplit/routing/", "edgesplit/request_flow.py")),
    ("upstream client (httpx)", ("edgesplit/transport/", "httpx", "httpcore", "h11/_")),
    ("response: JSON, SSE re-encoding", ("edgesplit/http/respond.py", "edgesplit/http/openai_format.py",
                                         "json/", "orjson")),
    ("metrics (prometheus-client)", ("prometheus_client", "edgesplit/metrics.py")),
    ("tracing spans (OpenTelemetry)", ("opentelemetry", "edgesplit/tracing.py")),
    ("logging", ("logging/",)),
    ("server (uvicorn, starlette, fastapi)", ("uvicorn", "starlette", "fastapi", "anyio")),
    (IDLE := "idle (event loop waiting on sockets)", ("selectors.py", "asyncio/runners.py", "uvloop/")),
]  # fmt: skip
OTHER = "other (asyncio, the rest)"
UNMATCHED: dict[str, float] = {}


def stage_of(frame: Any) -> str | None:
    path = frame.file_path or (frame.parent.file_path if frame.is_synthetic and frame.parent else None)
    where = f"{path or ''}:{frame.function or ''}".replace("\\", "/")  # a [self] frame: its caller's file
    return next((name for name, parts in STAGES if any(p in where for p in parts)), None)


def attribute(frame: Any, inherited: str | None, totals: dict[str, float]) -> None:
    """Each frame's own time to the innermost stage on its path (its own, else its caller's).

    The loop's own frames count as idle for their own time only: what they call is not idling."""
    matched = stage_of(frame)
    here = matched or inherited
    own = max(frame.time - sum(child.time for child in frame.children), 0.0)
    totals[here or OTHER] = totals.get(here or OTHER, 0.0) + own
    if here is None:  # what "other" holds, by frame, for --show-other
        key = f"{frame.file_path_short or frame.file_path}:{frame.function}"
        UNMATCHED[key] = UNMATCHED.get(key, 0.0) + own
    for child in frame.children:
        attribute(child, inherited if matched == IDLE else here, totals)


def one(client: httpx.Client, url: str, stream: bool) -> None:
    body = {"model": "edgesplit/cloud", "messages": [{"role": "user", "content": PROMPT}], "max_tokens": 32}
    if not stream:
        client.post(f"{url}/v1/chat/completions", json=body).raise_for_status()
        return
    with client.stream("POST", f"{url}/v1/chat/completions", json={**body, "stream": True}) as reply:
        reply.raise_for_status()
        for _ in reply.iter_lines():
            pass


def drive(server: uvicorn.Server, requests: int, stream: bool, go: threading.Event, done: threading.Event) -> None:
    """The client thread: a warm-up, then ``requests`` profiled ones, then the server stops."""
    while not server.started:
        time.sleep(0.05)
    url = f"http://127.0.0.1:{server.servers[0].sockets[0].getsockname()[1]}"
    with httpx.Client(timeout=30) as client:
        for _ in range(20):
            one(client, url, stream)
        go.set()
        time.sleep(0.2)  # the profiler starts on the server's loop
        for _ in range(requests):
            one(client, url, stream)
    done.set()
    server.should_exit = True


async def serve_profiled(server: uvicorn.Server, go: threading.Event, done: threading.Event) -> Any:
    from pyinstrument import Profiler

    profiler = Profiler(interval=0.0002, async_mode="disabled")  # every coroutine of this thread

    async def watch() -> None:
        while not go.is_set():
            await asyncio.sleep(0.01)
        profiler.start()
        while not done.is_set():
            await asyncio.sleep(0.01)
        profiler.stop()

    watcher = asyncio.create_task(watch())
    await server.serve()
    await watcher
    return profiler


def profile(echo: str, requests: int, stream: bool, ner: bool) -> Any:
    """One edge in this thread's loop (uvloop and httptools, as ``edgesplit serve``), profiled."""
    import uvloop

    with tempfile.TemporaryDirectory(prefix="edgesplit-profile-") as tmp:
        settings = load_settings(role="edge", upstream=echo, port=0, data_dir=Path(tmp), privacy_ner=ner,
                                 link_probe_interval_s=0)  # fmt: skip
        config = uvicorn.Config(create_app(build_node(settings)), host="127.0.0.1", port=0, log_level="warning",
                                access_log=False, **UVICORN_IO)  # fmt: skip
        server = uvicorn.Server(config)
        go, done = threading.Event(), threading.Event()
        client = threading.Thread(target=drive, args=(server, requests, stream, go, done), daemon=True)
        client.start()
        with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
            profiler = runner.run(serve_profiled(server, go, done))
        client.join(timeout=60)
    return profiler


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=300, help="plain requests (and as many streamed)")
    parser.add_argument("--ner", action=argparse.BooleanOptionalAction, default=True, help="the policy's NER")
    parser.add_argument("--show-other", action="store_true", help="print the frames the other row holds")
    args = parser.parse_args()
    echo, echo_proc = start_echo()
    try:
        profiles = {kind: profile(echo, args.requests, kind == "streamed", args.ner) for kind in ("plain", "streamed")}
    finally:
        echo_proc.terminate()
        echo_proc.wait(timeout=20)
    status = report(profiles, args.requests, args.ner)
    if args.show_other:
        for key, seconds in sorted(UNMATCHED.items(), key=lambda kv: -kv[1])[:25]:
            print(f"{1000 * seconds / (2 * args.requests):8.3f} ms  {key}")
    return status


def off_loop_privacy_ms(ner: bool, rounds: int = 200) -> float:
    """What the worker thread does per request (the redaction pass, NER included), timed directly:
    pyinstrument samples the loop's thread only, so this work is not in the rows above."""
    from edgesplit.generation import Prompt
    from edgesplit.privacy.redactor import Redactor

    redactor = Redactor.from_settings(load_settings(role="edge", privacy_ner=ner))
    prompts = [Prompt(messages=(("user", f"{PROMPT} ({i})"),)) for i in range(rounds)]
    for prompt in prompts[:10]:
        _ = redactor.plan(prompt, None, None, None).upstream_prompt
    start = time.perf_counter()
    for prompt in prompts:
        _ = redactor.plan(prompt, None, None, None).upstream_prompt
    return 1000 * (time.perf_counter() - start) / rounds


def stage_times(profiler: Any, requests: int) -> dict[str, float]:
    """ms per request by stage, for one profiled run."""
    totals: dict[str, float] = {}
    attribute(profiler.last_session.root_frame(), None, totals)
    return {name: 1000 * t / requests for name, t in totals.items()}


def report(profiles: dict[str, Any], requests: int, ner: bool) -> int:
    times = {kind: stage_times(p, requests) for kind, p in profiles.items()}
    order = [name for name, _ in STAGES] + [OTHER]
    busy = {kind: sum(t for name, t in row.items() if not name.startswith("idle")) for kind, row in times.items()}
    lines = [f"NER {'on' if ner else 'off'}; {requests} requests each, forced to the echo upstream; "
             "pyinstrument's sampling (0.2 ms) slows the code it samples, so compare rows, not totals",
             "", "| stage | plain ms/request | streamed ms/request |", "|---|---:|---:|"]  # fmt: skip
    for name in order:
        lines.append(f"| {name} | {times['plain'].get(name, 0.0):.3f} | {times['streamed'].get(name, 0.0):.3f} |")
    lines.append(f"| **busy total** | **{busy['plain']:.3f}** | **{busy['streamed']:.3f}** |")
    thread = off_loop_privacy_ms(ner)
    lines.append(f"| privacy, timed directly: classify + redact (the redact pass, NER in it, runs on a worker "
                 f"thread, outside the rows above) | {thread:.3f} | |")  # fmt: skip
    text = "\n".join(lines)
    print(text)
    OUT.mkdir(exist_ok=True)
    name = "gateway_profile" + ("" if ner else "_no_ner")
    write_result(OUT, name, text, {"ner": ner, "requests": requests, "ms_per_request": times, "busy_ms": busy,
                                   "privacy_off_loop_ms": thread})  # fmt: skip
    for kind, profiler in profiles.items():
        SCRATCH.mkdir(parents=True, exist_ok=True)
        (SCRATCH / f"{name}_{kind}.html").write_text(profiler.output_html())  # large: scratch, not committed
    print(f"\nwrote {OUT / name}.md, .json and one pyinstrument .html per kind in {SCRATCH}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
