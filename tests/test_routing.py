"""Routing through the edge: forced routes, the confidence cascade (real models), route metadata."""

from __future__ import annotations

import httpx
import pytest

from conftest import CLOUD_TOKEN, EdgeFactory, chat, client_for, route_info
from edgesplit.server import NodeServer


def test_forced_edge_and_cloud_by_model_alias(edge: NodeServer) -> None:
    assert route_info(chat(edge, "Hi", model="edgesplit/edge"))["route"] == "edge"
    cloud_meta = route_info(chat(edge, "Hi", model="edgesplit/cloud"))
    assert cloud_meta["route"] == "cloud" and cloud_meta["rule"] == "forced" and not cloud_meta["fallback"]


def test_forced_route_by_header_and_body(edge: NodeServer) -> None:
    by_header = chat(edge, "Hi", extra_headers={"x-edgesplit-route": "cloud"})
    assert route_info(by_header)["route"] == "cloud"
    by_body = chat(edge, "Hi", extra_body={"edgesplit": {"route": "edge"}})
    assert route_info(by_body)["route"] == "edge"


def test_route_headers_present(edge: NodeServer) -> None:
    raw = client_for(edge).chat.completions.with_raw_response.create(
        model="edgesplit/cloud", messages=[{"role": "user", "content": "Hi"}], max_tokens=4
    )
    assert raw.headers["x-edgesplit-route"] == "cloud"
    assert raw.headers["x-edgesplit-rule"] == "forced"
    assert raw.headers["x-edgesplit-fallback"] == "false"


def test_conflicting_forced_routes_are_rejected(edge: NodeServer) -> None:
    body = {"model": "edgesplit/edge", "messages": [{"role": "user", "content": "Hi"}]}
    response = httpx.post(f"{edge.url}/v1/chat/completions", json=body, headers={"x-edgesplit-route": "cloud"})
    assert response.status_code == 400
    assert "conflicting" in response.json()["error"]["message"]


def _confidence(edge: NodeServer, prompt: str) -> float:
    reply = chat(edge, prompt, model="edgesplit/edge", max_tokens=24, logprobs=True)
    values = [item.logprob for item in reply.choices[0].logprobs.content]
    return sum(values) / len(values)


CONFIDENT = "Write a Python function that returns the sum of a list."
UNSURE = "Say hello to the operator in one short sentence."


def test_cascade_keeps_confident_and_escalates_unsure(make_edge: EdgeFactory, cloud: NodeServer) -> None:
    probe = make_edge()
    high, low = _confidence(probe, CONFIDENT), _confidence(probe, UNSURE)
    assert high > low, "the fixed prompts no longer differ in confidence; pick others"
    threshold = (high + low) / 2
    edge = make_edge(upstream=cloud.url, upstream_token=CLOUD_TOKEN, cascade_threshold=threshold)
    kept = route_info(chat(edge, CONFIDENT, max_tokens=24))
    assert kept["route"] == "edge" and kept["rule"] == "cascade-kept"
    assert kept["confidence"] == pytest.approx(high, abs=1e-3)
    escalated = route_info(chat(edge, UNSURE, max_tokens=24))
    assert escalated["route"] == "cloud" and escalated["rule"] == "cascade-escalated"
    assert escalated["confidence"] == pytest.approx(low, abs=1e-3)


@pytest.mark.parametrize(("threshold", "expected"), [(-50.0, "edge"), (0.0, "cloud")])
def test_streaming_cascade_still_streams(
    make_edge: EdgeFactory, cloud: NodeServer, threshold: float, expected: str
) -> None:
    edge = make_edge(
        upstream=cloud.url, upstream_token=CLOUD_TOKEN, cascade_threshold=threshold, cascade_probe_tokens=4
    )
    chunks = list(chat(edge, "Name three primary colors.", stream=True))
    assert sum(1 for c in chunks if c.choices and c.choices[0].delta.content) > 1
    meta = chunks[0].model_extra["edgesplit"]
    assert meta["route"] == expected
    assert "first 4 tokens" in meta["reason"]


def test_no_upstream_answers_on_edge(make_edge: EdgeFactory) -> None:
    meta = route_info(chat(make_edge(), "Hi"))
    assert meta["route"] == "edge" and meta["rule"] == "no-upstream"
