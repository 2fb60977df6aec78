"""FailoverBackend (edge/failover.py): full generation over several real upstreams on loopback.

The upstreams are real nodes (the session cloud, a local tier) or labelled doubles from
tests/doubles.py where a server must fail in a set way (break mid-stream, record what it got).
"""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from conftest import CLOUD_TOKEN, EDGE_MODEL, EdgeFactory, ask_cloud
from doubles import RecordingEcho, RecordingProxy, breaking_upstream, failing_upstream
from edgesplit.cloud.verifier import TIE_TOLERANCE
from edgesplit.generation import Prompt
from edgesplit.llama.margins import greedy_with_margins
from edgesplit.llama.tokenizer import ChatTokenizer
from edgesplit.server import AppServer, NodeServer

DEAD = "http://127.0.0.1:9"  # nothing listens there
PROMPT = "Name three colours of the rainbow."


def cloud_chunks(cloud: NodeServer, max_tokens: int) -> list[str]:
    """The cloud's own greedy answer to PROMPT, as the content chunks it streams."""
    body = {"model": "default", "messages": [{"role": "user", "content": PROMPT}], "stream": True}
    body |= {"max_tokens": max_tokens, "temperature": 0}
    chunks = []
    headers = {"authorization": f"Bearer {CLOUD_TOKEN}"}
    with httpx.stream("POST", f"{cloud.url}/v1/chat/completions", json=body, headers=headers, timeout=120) as reply:
        for line in reply.iter_lines():
            if line.startswith("data: {"):
                for choice in json.loads(line[6:]).get("choices", []):
                    if choice["delta"].get("content"):
                        chunks.append(choice["delta"]["content"])
    return chunks


def calls(edge: NodeServer) -> dict[tuple[str, str], float]:
    """``edgesplit_upstream_calls_total`` by (upstream, outcome), read from ``/metrics``."""
    text = httpx.get(f"{edge.url}/metrics", timeout=10).text
    found = {}
    for line in text.splitlines():
        if line.startswith("edgesplit_upstream_calls_total{"):
            labels = dict(part.split("=") for part in line[line.index("{") + 1 : line.index("}")].split(","))
            key = (labels["upstream"].strip('"'), labels["outcome"].strip('"'))
            found[key] = float(line.rsplit(" ", 1)[1])
    return found


def margin_where_it_parts(llm: Any, answer: str, max_tokens: int) -> float | None:
    """Where ``answer`` parts from plain greedy decoding of PROMPT: plain decoding's top-2 margin there.

    None when it does not part. A continued answer re-reads the text so far in one batch, whose
    rounding differs from one token at a time (llama/margins.py), so it may take the runner-up
    where the two are nearly tied: the contract verification is held to (cloud/verifier.py)."""
    tokenizer = ChatTokenizer(llm, EDGE_MODEL)
    steps = greedy_with_margins(
        llm, tokenizer.encode(Prompt(messages=(("user", PROMPT),))), max_tokens, tokenizer.is_end
    )
    target, done = answer.encode(), b""
    for step in steps:
        piece = b"" if tokenizer.is_end(step.token) else tokenizer.piece(step.token)
        if not target.startswith(done + piece):
            return step.margin
        done += piece
    assert done == target, (done, target)
    return None


def upstream(url: str, name: str, **fields: Any) -> dict[str, Any]:
    return {"url": url, "name": name, **fields}


def edge_over(make_edge: EdgeFactory, *entries: dict[str, Any], **overrides: Any) -> NodeServer:
    """An edge whose upstreams are ``entries`` (no background probes: each call is the test's own)."""
    return make_edge(upstreams=list(entries), link_probe_interval_s=0, **overrides)


@pytest.fixture
def cloud_key(monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("TEST_CLOUD_KEY", CLOUD_TOKEN)
    return "TEST_CLOUD_KEY"


@pytest.mark.parametrize("stream", [False, True])
def test_a_stream_broken_mid_way_is_continued_by_the_next_upstream_as_cloud_greedy(
    make_edge: EdgeFactory, cloud: NodeServer, cloud_key: str, reference_llm: Any, stream: bool
) -> None:
    reference = cloud_chunks(cloud, 24)
    assert len(reference) > 6
    with AppServer(breaking_upstream(reference[:4])) as breaking:
        edge = edge_over(
            make_edge,
            upstream(breaking.url, "first", priority=0),
            upstream(cloud.url, "second", priority=1, key_env=cloud_key, model="default"),
        )
        text, meta = ask_cloud(edge, PROMPT, stream, max_tokens=24, temperature=0)
    # one answer: the second upstream went on from the first's text, as cloud greedy up to near-ties
    assert text.startswith("".join(reference[:4]))
    margin = margin_where_it_parts(reference_llm, text, 24)
    assert margin is None or margin < TIE_TOLERANCE, (margin, text, "".join(reference))
    assert meta["route"] == "cloud" and not meta["fallback"]
    assert calls(edge) == {("first", "broken"): 1.0, ("second", "ok"): 1.0}


def test_a_device_asks_the_cloud_when_its_local_tier_is_down(
    make_edge: EdgeFactory, cloud: NodeServer, cloud_key: str
) -> None:
    device = edge_over(
        make_edge,
        upstream(DEAD, "local", priority=0, scope="site"),
        upstream(cloud.url, "cloud", priority=1, scope="cloud", key_env=cloud_key, model="default"),
    )
    answer, meta = ask_cloud(device, PROMPT, stream=True, max_tokens=8)
    assert answer and not meta["fallback"]
    assert [(hop["tier"], hop["served"]) for hop in meta["hops"]] == [("device", False), ("cloud", True)]
    assert calls(device) == {("local", "failed"): 1.0, ("cloud", "ok"): 1.0}


def test_site_only_data_never_fails_over_to_a_cloud_upstream(
    make_edge: EdgeFactory, echo_upstream: tuple[RecordingEcho, AppServer]
) -> None:
    echo, server = echo_upstream
    device = edge_over(
        make_edge, upstream(DEAD, "local", scope="site"), upstream(server.url, "cloud", priority=1, scope="cloud")
    )
    headers = {"x-edgesplit-privacy": "site-only"}
    reply = httpx.post(
        f"{device.url}/v1/chat/completions",
        json={"model": "edgesplit/cloud", "messages": [{"role": "user", "content": "Patient Ana Souza."}]},
        headers=headers,
        timeout=120,
    )
    assert reply.status_code == 200, reply.text
    meta = reply.json()["edgesplit"]
    assert meta["route"] == "edge" and meta["fallback"]  # the on-premises upstream was down: answered here
    assert echo.bodies == []
    assert ("cloud", "ok") not in calls(device)
    # without the floor the same device does use its cloud upstream
    _, meta = ask_cloud(device, "Name a colour.", stream=False, max_tokens=4)
    assert meta["route"] == "cloud" and len(echo.bodies) == 1


def test_a_client_error_is_not_retried_on_the_next_upstream(
    make_edge: EdgeFactory, echo_upstream: tuple[RecordingEcho, AppServer]
) -> None:
    echo, server = echo_upstream
    with AppServer(failing_upstream(400)) as rejecting:
        edge = edge_over(make_edge, upstream(rejecting.url, "first"), upstream(server.url, "second", priority=1))
        body = {"model": "edgesplit/cloud", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 4}
        reply = httpx.post(f"{edge.url}/v1/chat/completions", json=body, timeout=60)
    assert reply.status_code == 400 and "boom" in reply.text
    assert echo.bodies == []


def test_a_failing_upstream_opens_its_own_circuit_and_the_rest_carry_on(
    make_edge: EdgeFactory, echo_upstream: tuple[RecordingEcho, AppServer]
) -> None:
    echo, server = echo_upstream
    with AppServer(failing_upstream(503)) as failing:
        edge = edge_over(
            make_edge,
            upstream(failing.url, "bad"),
            upstream(server.url, "good", priority=1),
            link_failure_threshold=2,
            link_backoff_s=600,
        )
        for i in range(4):
            _, meta = ask_cloud(edge, f"Question {i}", stream=False, max_tokens=4)
            assert meta["route"] == "cloud" and not meta["fallback"]
        stats = httpx.get(f"{edge.url}/v1/stats", timeout=10).json()
    assert calls(edge) == {("bad", "failed"): 2.0, ("good", "ok"): 4.0}  # open after 2: not asked again
    states = {entry["name"]: entry["state"] for entry in stats["node"]["upstreams"]}
    assert states == {"bad": "open", "good": "closed"}
    assert len(echo.bodies) == 4


@pytest.mark.parametrize("retries", [0, 1])
def test_a_load_balancer_is_asked_again_only_when_configured(
    make_edge: EdgeFactory, cloud: NodeServer, cloud_key: str, retries: int
) -> None:
    balancer = RecordingProxy(cloud.url, fail_first=1)  # its first answer: 503, as when a replica died
    with AppServer(balancer.app) as server:
        entry = upstream(server.url, "balancer", key_env=cloud_key, model="default", retries=retries)
        edge = edge_over(make_edge, entry)
        text, meta = ask_cloud(edge, PROMPT, stream=False, max_tokens=12, temperature=0)
    if retries:
        assert meta["route"] == "cloud" and not meta["fallback"]
        assert text == "".join(cloud_chunks(cloud, 12))
        assert calls(edge) == {("balancer", "failed"): 1.0, ("balancer", "ok"): 1.0}
    else:
        assert meta["route"] == "edge" and meta["fallback"] is True  # the edge's own model answered
        assert calls(edge) == {("balancer", "failed"): 1.0}
        assert balancer.bodies == []


def test_equal_priorities_share_the_load_by_weight(make_edge: EdgeFactory) -> None:
    echoes = [RecordingEcho(), RecordingEcho()]
    with AppServer(echoes[0].app) as one, AppServer(echoes[1].app) as two:
        edge = edge_over(make_edge, upstream(one.url, "one", weight=3), upstream(two.url, "two", weight=1))
        for i in range(40):
            ask_cloud(edge, f"Question {i}", stream=False, max_tokens=4)
    counts = [len(echo.bodies) for echo in echoes]
    assert sum(counts) == 40 and counts[0] > counts[1] > 0


def test_an_upstream_that_cannot_continue_a_chat_answer_is_skipped_mid_stream(
    make_edge: EdgeFactory, echo_upstream: tuple[RecordingEcho, AppServer]
) -> None:
    echo, server = echo_upstream
    with AppServer(breaking_upstream(["The", " answer", " is"])) as breaking:
        edge = edge_over(
            make_edge,
            upstream(breaking.url, "first"),
            upstream(server.url, "plain", kind="openai", priority=1),  # continues = "none" by default
        )
        text, meta = ask_cloud(edge, "What is 2+2?", stream=True, max_tokens=16, temperature=0)
    assert text.startswith("The answer is") and len(text) > len("The answer is")
    assert meta["fallback"] and "finished on the edge" in meta["reason"]
    assert echo.bodies == []  # it would have started a new turn, not continued
