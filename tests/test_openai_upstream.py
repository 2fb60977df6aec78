"""A cloud nobody here wrote: llama-cpp-python's own OpenAI-compatible server as an upstream.

The server is the real ``llama_cpp.server`` (started through ``edgesplit.llama.openai_server``,
which only loads this build's CPU backend first), serving the same GGUF as the edge and the
session cloud, so its greedy answers are theirs too.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from conftest import CLOUD_TOKEN, EDGE_MODEL, EdgeFactory, ask_cloud, free_port
from doubles import RecordingProxy
from edgesplit.server import AppServer, NodeServer
from test_failover import calls, edge_over, upstream

PROMPT = "Name three colours of the rainbow."
ALIAS = "smol"


class LlamaServer:
    """``python -m edgesplit.llama.openai_server`` on a free loopback port."""

    def __init__(self) -> None:
        self.url = f"http://127.0.0.1:{free_port()}"
        port = self.url.rsplit(":", 1)[1]
        cmd = [sys.executable, "-m", "edgesplit.llama.openai_server", "--model", EDGE_MODEL, "--host", "127.0.0.1"]
        cmd += ["--port", port, "--n_ctx", "2048", "--n_threads", "2", "--model_alias", ALIAS, "--verbose", "false"]
        self.proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        deadline = time.monotonic() + 60
        while True:
            assert self.proc.poll() is None, self.proc.stderr.read().decode()[-2000:]  # type: ignore[union-attr]
            try:
                if httpx.get(f"{self.url}/v1/models", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, "llama_cpp.server did not start"
            time.sleep(0.2)

    def answer(self, max_tokens: int) -> str:
        """Its own greedy answer to PROMPT, asked directly."""
        body = {"model": ALIAS, "messages": [{"role": "user", "content": PROMPT}], "max_tokens": max_tokens}
        reply = httpx.post(f"{self.url}/v1/chat/completions", json={**body, "temperature": 0}, timeout=120)
        return str(reply.json()["choices"][0]["message"]["content"])

    def stop(self) -> None:
        self.proc.kill()
        self.proc.wait(timeout=30)
        self.proc.stderr.close()  # type: ignore[union-attr]


@pytest.fixture(scope="module")
def llama() -> Iterator[LlamaServer]:
    server = LlamaServer()
    yield server
    server.stop()


@pytest.fixture
def recorded(llama: LlamaServer) -> Iterator[tuple[RecordingProxy, str]]:
    proxy = RecordingProxy(llama.url)
    with AppServer(proxy.app) as server:
        yield proxy, server.url


def openai_upstream(url: str, **fields: Any) -> dict[str, Any]:
    return upstream(url, "llama", kind="openai", model=ALIAS, **fields)


@pytest.mark.parametrize("stream", [False, True])
def test_full_generation_through_llama_cpp_server(
    make_edge: EdgeFactory, llama: LlamaServer, recorded: tuple[RecordingProxy, str], stream: bool
) -> None:
    proxy, url = recorded
    edge = edge_over(make_edge, openai_upstream(url))
    text, meta = ask_cloud(edge, PROMPT, stream, max_tokens=24, temperature=0)
    assert text == llama.answer(24)
    assert meta["route"] == "cloud" and not meta["fallback"]
    assert [(hop["tier"], hop["served"]) for hop in meta["hops"]] == [("device", False), ("upstream", True)]
    sent = json.loads(proxy.bodies[-1])
    assert sent["model"] == ALIAS and sent["stream"] is True
    assert "continue_final_message" not in sent  # nothing it does not know


def test_the_edge_redacts_what_goes_to_llama_cpp_server(
    make_edge: EdgeFactory, recorded: tuple[RecordingProxy, str]
) -> None:
    proxy, url = recorded
    edge = edge_over(make_edge, openai_upstream(url))
    text = "Write back exactly: contact ana.souza@example.com or +1 415-555-0134 about the invoice."
    answer, meta = ask_cloud(edge, text, stream=True, max_tokens=32, temperature=0)
    assert meta["route"] == "cloud" and sum(meta["privacy"]["redacted"].values()) >= 2
    seen = proxy.seen()
    assert "ana.souza@example.com" not in seen and "555-0134" not in seen
    assert "<EMAIL_ADDRESS_1>" in seen and "<PHONE_NUMBER_1>" in seen
    assert "<EMAIL_ADDRESS_" not in answer and "<PHONE_NUMBER_" not in answer  # any it wrote: restored


def test_killed_mid_stream_the_next_upstream_finishes_the_answer(
    make_edge: EdgeFactory, cloud: NodeServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TEST_CLOUD_KEY", CLOUD_TOKEN)
    doomed = LlamaServer()
    try:
        edge = edge_over(
            make_edge,
            openai_upstream(doomed.url),
            upstream(cloud.url, "cloud", priority=1, key_env="TEST_CLOUD_KEY", model="default"),
        )
        body = {"model": "edgesplit/cloud", "messages": [{"role": "user", "content": PROMPT}], "stream": True}
        parts, before_kill, meta = [], "", {}
        with httpx.stream(
            "POST", f"{edge.url}/v1/chat/completions", json={**body, "max_tokens": 96, "temperature": 0}, timeout=120
        ) as reply:
            for line in reply.iter_lines():
                if not line.startswith("data: {"):
                    continue
                chunk = json.loads(line[6:])
                for choice in chunk.get("choices", []):
                    parts.append(choice["delta"].get("content") or "")
                    meta = chunk.get("edgesplit", meta) if choice.get("finish_reason") else meta
                if len(parts) == 2 and doomed.proc.poll() is None:
                    before_kill = "".join(parts)
                    doomed.proc.send_signal(signal.SIGKILL)
        text = "".join(parts)
        # one answer: what llama_cpp.server wrote, then the cloud's continuation of it (the two
        # servers sample differently, so the whole is not either one's own answer)
        assert before_kill and text.startswith(before_kill) and len(text) > len(before_kill) + 20
        assert meta["route"] == "cloud" and not meta["fallback"]
        assert calls(edge) == {("llama", "broken"): 1.0, ("cloud", "ok"): 1.0}
        _, meta = ask_cloud(edge, "Name a colour.", stream=False, max_tokens=4)  # it stays down: the cloud answers
        assert meta["route"] == "cloud" and not meta["fallback"]
        assert calls(edge)[("cloud", "ok")] == 2.0
    finally:
        doomed.stop()
