"""The cloud failing: unreachable, killed, slow, erroring, breaking mid-stream. The edge answers."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette

from conftest import CLOUD_TOKEN, EDGE_MODEL, EdgeFactory, ask_cloud, chat, client_for, free_port, wait_healthy
from doubles import breaking_upstream, failing_upstream, hanging_upstream, silent_stream_upstream
from edgesplit.server import AppServer


def test_unreachable_cloud_falls_back(make_edge: EdgeFactory) -> None:
    edge = make_edge(upstream=f"http://127.0.0.1:{free_port()}", upstream_timeout_s=5)
    meta = chat(edge, "Hi", model="edgesplit/cloud").model_extra["edgesplit"]
    assert meta["route"] == "edge" and meta["fallback"] is True
    assert "unreachable" in meta["upstream_error"]
    metrics = httpx.get(f"{edge.url}/metrics").text
    assert 'edgesplit_upstream_errors_total{kind="UpstreamError"} 1.0' in metrics


def _timed_cloud_chat(make_edge: EdgeFactory, upstream: Starlette, timeout_s: float) -> tuple[Any, float]:
    """A forced-cloud chat through an edge whose upstream is ``upstream``; returns (reply, seconds)."""
    with AppServer(upstream) as double:
        edge = make_edge(upstream=double.url, upstream_timeout_s=timeout_s)
        start = time.perf_counter()
        reply = chat(edge, "Hi", model="edgesplit/cloud", max_tokens=8)
        return reply, time.perf_counter() - start


def test_slow_cloud_falls_back_within_timeout(make_edge: EdgeFactory) -> None:
    reply, elapsed = _timed_cloud_chat(make_edge, hanging_upstream(), timeout_s=1.0)
    meta = reply.model_extra["edgesplit"]
    assert meta["fallback"] is True and "within 1 s" in meta["upstream_error"]
    assert 1.0 <= elapsed < 4.0  # the timeout, plus a few edge tokens


def test_headers_without_tokens_still_bounded_by_one_timeout(make_edge: EdgeFactory) -> None:
    reply, elapsed = _timed_cloud_chat(make_edge, silent_stream_upstream(), timeout_s=1.0)
    assert reply.model_extra["edgesplit"]["fallback"] is True
    assert 1.0 <= elapsed < 1.95  # one timeout for the first token, not one per phase (two would be 2.0 s)


@pytest.mark.parametrize("status", [500, 503, 429, 401])
def test_erroring_cloud_falls_back(make_edge: EdgeFactory, status: int) -> None:
    with AppServer(failing_upstream(status)) as bad:
        edge = make_edge(upstream=bad.url)
        meta = chat(edge, "Hi", model="edgesplit/cloud").model_extra["edgesplit"]
    assert meta["fallback"] is True and str(status) in meta["upstream_error"]


def test_cloud_client_error_is_passed_through_not_hidden(make_edge: EdgeFactory) -> None:
    with AppServer(failing_upstream(400)) as bad:
        edge = make_edge(upstream=bad.url)
        response = httpx.post(
            f"{edge.url}/v1/chat/completions",
            json={"model": "edgesplit/cloud", "messages": [{"role": "user", "content": "Hi"}]},
        )
    assert response.status_code == 400
    assert "boom" in response.json()["error"]["message"]


def test_escalation_with_failing_cloud_keeps_edge_answer(make_edge: EdgeFactory) -> None:
    with AppServer(failing_upstream(500)) as bad:
        edge = make_edge(upstream=bad.url, cascade_threshold=0.0)  # escalate everything
        meta = chat(edge, "Hi").model_extra["edgesplit"]
        stream = client_for(edge).chat.completions.create(
            model="edgesplit/auto", messages=[{"role": "user", "content": "Hi"}], max_tokens=16, stream=True
        )
        chunks = list(stream)
    assert meta["route"] == "edge" and meta["fallback"] is True and "< threshold" in meta["reason"]
    assert chunks[0].model_extra["edgesplit"]["fallback"] is True
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)


@pytest.mark.parametrize("stream", [False, True])
def test_stream_broken_mid_way_is_finished_on_edge(make_edge: EdgeFactory, stream: bool) -> None:
    words = ["The", " answer", " is"]
    with AppServer(breaking_upstream(words)) as breaking:
        edge = make_edge(upstream=breaking.url)
        text, meta = ask_cloud(edge, "What is 2+2?", stream, max_tokens=16)
    assert text.startswith("The answer is") and len(text) > len("The answer is")
    assert meta["fallback"] is True and "finished on the edge" in meta["reason"]


def test_cloud_killed_mid_run_falls_back(make_edge: EdgeFactory, tmp_path: Path) -> None:
    port = free_port()
    env = {**os.environ, "EDGESPLIT_API_TOKEN": CLOUD_TOKEN, "EDGESPLIT_DATA_DIR": str(tmp_path)}
    cmd = [sys.executable, "-m", "edgesplit", "serve", "--role", "cloud", "--model", EDGE_MODEL, "--port", str(port)]
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        url = f"http://127.0.0.1:{port}"
        wait_healthy(url, proc)
        # a freshly started cloud on a loaded machine may take seconds to answer; the kill below is a refusal
        edge = make_edge(upstream=url, upstream_token=CLOUD_TOKEN, upstream_timeout_s=30)
        before = chat(edge, "Hi", model="edgesplit/cloud").model_extra["edgesplit"]
        assert before["route"] == "cloud" and not before["fallback"], before
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
        after = chat(edge, "Hi", model="edgesplit/cloud").model_extra["edgesplit"]
        assert after["route"] == "edge" and after["fallback"] is True
    finally:
        proc.kill()
        proc.wait(timeout=10)
