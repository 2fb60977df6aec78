"""The OpenAI surface of both tiers, driven by the official openai SDK against real servers."""

from __future__ import annotations

import httpx
import openai
import pytest

from conftest import CLOUD_TOKEN, EDGE_MODEL, chat, client_for
from edgesplit.server import NodeServer


def test_chat_non_streamed_reports_usage_and_route(edge: NodeServer) -> None:
    reply = chat(edge, "What is the capital of France?", model="edgesplit/edge", max_tokens=16)
    assert reply.choices[0].message.role == "assistant"
    assert reply.choices[0].message.content
    assert reply.choices[0].finish_reason in ("stop", "length")
    assert reply.usage.completion_tokens > 0
    assert reply.usage.total_tokens == reply.usage.prompt_tokens + reply.usage.completion_tokens
    assert reply.model_extra["edgesplit"]["route"] == "edge"


def test_chat_stream_matches_non_stream_under_greedy(edge: NodeServer) -> None:
    whole = chat(edge, "Name three primary colors.", model="edgesplit/edge", max_tokens=20)
    stream_options = {"include_usage": True}
    stream = chat(
        edge,
        "Name three primary colors.",
        model="edgesplit/edge",
        max_tokens=20,
        stream=True,
        stream_options=stream_options,
    )
    chunks = list(stream)
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == whole.choices[0].message.content
    assert chunks[0].choices[0].delta.role == "assistant"
    assert chunks[-1].usage is not None and chunks[-1].usage.completion_tokens == whole.usage.completion_tokens
    finals = [c for c in chunks if c.choices and c.choices[0].finish_reason]
    assert len(finals) == 1 and finals[0].model_extra["edgesplit"]["route"] == "edge"


def test_completions_with_logprobs(edge: NodeServer) -> None:
    reply = client_for(edge).completions.create(
        model="edgesplit/edge", prompt="The capital of France is", max_tokens=8, temperature=0, logprobs=2
    )
    choice = reply.choices[0]
    assert choice.text
    assert len(choice.logprobs.token_logprobs) == reply.usage.completion_tokens
    assert all(lp <= 0 for lp in choice.logprobs.token_logprobs)
    assert all(len(top) == 2 for top in choice.logprobs.top_logprobs)


def test_chat_logprobs_are_log_probabilities(edge: NodeServer) -> None:
    reply = chat(edge, "Say yes.", model="edgesplit/edge", max_tokens=6, logprobs=True, top_logprobs=3)
    content = reply.choices[0].logprobs.content
    assert content and all(item.logprob <= 0 for item in content)
    for item in content:
        assert len(item.top_logprobs) == 3
        assert item.top_logprobs[0].logprob >= item.logprob - 1e-6  # the best alternative is at least as likely


def test_seed_makes_sampling_repeatable(edge: NodeServer) -> None:
    kwargs = {"model": "edgesplit/edge", "max_tokens": 24, "temperature": 1.0, "top_p": 0.9, "seed": 1234}
    first = chat(edge, "Tell me a short story.", **kwargs).choices[0].message.content
    second = chat(edge, "Tell me a short story.", **kwargs).choices[0].message.content
    assert first == second


def test_stop_sequence_is_honoured_and_not_emitted(edge: NodeServer) -> None:
    reply = chat(edge, "Count from 1 to 10, separated by commas.", model="edgesplit/edge", max_tokens=40, stop=["5"])
    text = reply.choices[0].message.content
    assert "5" not in text
    assert reply.choices[0].finish_reason == "stop"


def test_models_health_and_metrics(edge: NodeServer) -> None:
    ids = [m.id for m in client_for(edge).models.list().data]
    assert {"edgesplit/auto", "edgesplit/edge", "edgesplit/cloud", EDGE_MODEL} <= set(ids)
    chat(edge, "Hi", model="edgesplit/edge", max_tokens=4)
    assert httpx.get(f"{edge.url}/healthz").json()["role"] == "edge"
    metrics = httpx.get(f"{edge.url}/metrics").text
    for name in (
        'edgesplit_requests_total{path="/v1/chat/completions",status="200"}',
        "edgesplit_time_to_first_token_seconds_bucket",
        "edgesplit_inter_token_seconds_bucket",
        'edgesplit_tokens_generated_total{route="edge"}',
        "edgesplit_queue_depth",
        'edgesplit_routed_total{route="edge",rule="forced"}',
    ):
        assert name in metrics, name


def test_cloud_speaks_openai_with_token(cloud: NodeServer) -> None:
    client = client_for(cloud, api_key=CLOUD_TOKEN)
    reply = client.chat.completions.create(
        model="default", messages=[{"role": "user", "content": "Hi"}], max_tokens=4, temperature=0
    )
    assert reply.choices[0].message.content
    assert EDGE_MODEL in [m.id for m in client.models.list().data]


@pytest.mark.parametrize("token", [None, "wrong-token", CLOUD_TOKEN + "x"])
def test_cloud_rejects_missing_or_wrong_token(cloud: NodeServer, token: str | None) -> None:
    headers = {"authorization": f"Bearer {token}"} if token else {}
    body = {"model": "default", "messages": [{"role": "user", "content": "Hi"}], "max_tokens": 2}
    response = httpx.post(f"{cloud.url}/v1/chat/completions", json=body, headers=headers)
    assert response.status_code == 401
    assert response.json()["error"]["type"] == "authentication_error"
    with pytest.raises(openai.AuthenticationError):
        client_for(cloud, api_key=token or "none").models.list()


def test_health_needs_no_token(cloud: NodeServer) -> None:
    assert httpx.get(f"{cloud.url}/healthz").status_code == 200


@pytest.mark.parametrize("stream", [False, True])
def test_internal_errors_are_logged_without_the_request(
    edge: NodeServer, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture, stream: bool
) -> None:
    """A bug answers 500 (or an in-band error once streaming) and leaves a traceback in the log, no body."""
    from edgesplit.generation import TokenEvent
    from edgesplit.request_flow import Generation
    from edgesplit.schemas import RouteInfo

    async def events():  # type: ignore[no-untyped-def]
        yield TokenEvent(text="partial")
        raise RuntimeError("a bug in a backend")

    async def broken(*args: object, **kwargs: object) -> Generation:
        if not stream:
            raise RuntimeError("a bug in the node")
        return Generation(RouteInfo(route="edge", rule="forced", reason="test"), events())

    monkeypatch.setattr(edge.node, "generate", broken)
    secret = "my SSN is 123-45-6789"
    body = {"model": "edgesplit/edge", "messages": [{"role": "user", "content": secret}], "stream": stream}
    with caplog.at_level("ERROR", logger="edgesplit.http"):
        reply = httpx.post(f"{edge.url}/v1/chat/completions", json=body, timeout=60)
    if stream:
        assert reply.status_code == 200 and '"code": "internal_error"' in reply.text.replace('":"', '": "')
    else:
        assert reply.status_code == 500 and reply.json()["error"]["code"] == "internal_error"
    records = [r for r in caplog.records if r.name == "edgesplit.http"]
    assert len(records) == 1 and records[0].exc_info is not None
    assert "a bug in" in caplog.text and "/v1/chat/completions" in records[0].getMessage()
    assert "123-45-6789" not in caplog.text
