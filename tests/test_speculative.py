"""Speculative decoding end to end: the edge drafts, the cloud verifies, through the OpenAI API.

Here both tiers run SmolLM2 (the same-tokenizer pair, fast); the cross-tokenizer pair
(SmolLM2 drafting for Qwen2.5) is in test_e2e_real_tiers.py.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Iterator, Sequence
from typing import Any

import httpx
import pytest

from conftest import CLOUD_TOKEN, EDGE_MODEL, EdgeFactory, chat, client_for
from edgesplit.admission import ModelQueue
from edgesplit.config import load_settings
from edgesplit.edge.remote_verifier import RemoteVerifier
from edgesplit.edge.speculative import SpeculativeBackend, SpeculativeStats
from edgesplit.generation import GenerationParams, Prompt, TokenEvent
from edgesplit.llama.backend import DraftToken, LocalBackend
from edgesplit.models import locate_model
from edgesplit.server import NodeServer, build_node
from edgesplit.transport.upstream import UpstreamClient

PROMPTS = ["Name three primary colors.", "Write a Python function that adds two numbers.", "What is a router?"]
AUTH = {"authorization": f"Bearer {CLOUD_TOKEN}"}


@pytest.fixture(scope="module")
def spec_edge(cloud: NodeServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[NodeServer]:
    settings = load_settings(
        role="edge",
        port=0,
        upstream=cloud.url,
        upstream_token=CLOUD_TOKEN,
        speculative_model=EDGE_MODEL,
        speculative_verify="exact",  # these tests compare with the cloud's greedy answer token for token
        data_dir=tmp_path_factory.mktemp("spec-edge"),
    )
    with NodeServer(build_node(settings)) as server:
        yield server


def cloud_greedy(cloud: NodeServer, prompt: str, max_tokens: int) -> str:
    direct = client_for(cloud, api_key=CLOUD_TOKEN).chat.completions.create(
        model="default", messages=[{"role": "user", "content": prompt}], max_tokens=max_tokens, temperature=0
    )
    return str(direct.choices[0].message.content)


@pytest.mark.parametrize("prompt", PROMPTS)
def test_speculative_answer_is_the_cloud_greedy_answer(spec_edge: NodeServer, cloud: NodeServer, prompt: str) -> None:
    reply = chat(spec_edge, prompt, model="edgesplit/speculative", max_tokens=48)
    meta = reply.model_extra["edgesplit"]
    assert meta["route"] == "speculative" and not meta["fallback"]
    assert "greedy" in meta["reason"] and "verifies" in meta["reason"]
    assert reply.choices[0].message.content == cloud_greedy(cloud, prompt, 48)


def test_speculative_streams(spec_edge: NodeServer, cloud: NodeServer) -> None:
    stream = client_for(spec_edge).chat.completions.create(
        model="edgesplit/auto",
        messages=[{"role": "user", "content": PROMPTS[1]}],
        max_tokens=40,
        temperature=0,
        stream=True,
        stream_options={"include_usage": True},
        extra_headers={"x-edgesplit-route": "speculative"},
    )
    chunks = list(stream)
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == cloud_greedy(cloud, PROMPTS[1], 40)
    assert chunks[-1].usage is not None and 0 < chunks[-1].usage.completion_tokens <= 40


def test_skip_mode_says_it_is_not_lossless(spec_edge: NodeServer) -> None:
    reply = chat(
        spec_edge,
        PROMPTS[0],
        model="edgesplit/speculative",
        max_tokens=32,
        extra_body={"edgesplit": {"speculative_skip": 0.5}},
    )
    meta = reply.model_extra["edgesplit"]
    assert meta["route"] == "speculative" and "not verified" in meta["reason"]
    assert reply.choices[0].message.content
    bad = httpx.post(
        f"{spec_edge.url}/v1/chat/completions",
        json={
            "model": "edgesplit/speculative",
            "messages": [{"role": "user", "content": "hi"}],
            "edgesplit": {"speculative_skip": 1.5},
        },
    )
    assert bad.status_code == 400 and bad.json()["error"]["param"].endswith("speculative_skip")


class BadDrafter:
    """Test double: a drafter that always proposes the same wrong words, confidently."""

    vocab_fingerprint = None  # text drafts only

    async def draft(self, prompt: Prompt, n: int, after: Sequence[int] = ()) -> list[DraftToken]:
        return [DraftToken(piece, -0.01) for piece in [b" zebra", b" quantum", b" ###", b" 42"][:n]]


class PerfectDrafter:
    """Test double: drafts the known answer (to measure the best case of the protocol)."""

    def __init__(self, answer: str) -> None:
        self.answer = answer

    vocab_fingerprint = None  # text drafts only

    async def draft(self, prompt: Prompt, n: int, after: Sequence[int] = ()) -> list[DraftToken]:
        words = re.findall(r"\s*\S+|\s+$", self.answer[len(prompt.continuation) :])
        return [DraftToken(word.encode(), -0.01) for word in words[:n]]


async def _generate(backend: SpeculativeBackend, prompt: str, max_tokens: int) -> tuple[str, SpeculativeStats]:
    stats = SpeculativeStats()
    params = GenerationParams(max_tokens=max_tokens, temperature=0)
    parts = []
    async for event in backend.stream_with_stats(Prompt(messages=(("user", prompt),)), params, stats):
        if isinstance(event, TokenEvent):
            parts.append(event.text)
    await backend.verifier.client.aclose()
    return "".join(parts), stats


def test_a_bad_draft_costs_speed_not_correctness(cloud: NodeServer) -> None:
    backend = SpeculativeBackend(BadDrafter(), RemoteVerifier(UpstreamClient(cloud.url, CLOUD_TOKEN, 30)), EDGE_MODEL)
    text, stats = asyncio.run(_generate(backend, PROMPTS[2], 32))
    assert text == cloud_greedy(cloud, PROMPTS[2], 32)
    assert stats.accepted == 0 and stats.rounds == stats.tokens + (1 if stats.tokens < 32 else 0)


@pytest.fixture(scope="module")
def drafter_model() -> Iterator[LocalBackend]:
    backend = LocalBackend(EDGE_MODEL, locate_model(EDGE_MODEL), ModelQueue(EDGE_MODEL, 4, 1))
    yield backend
    backend.close()


def test_a_lost_session_is_reopened_with_the_answer_so_far(cloud: NodeServer, drafter_model: LocalBackend) -> None:
    expected = cloud_greedy(cloud, PROMPTS[0], 32)

    class ForgetfulVerifier(RemoteVerifier):
        """Deletes its session upstream before the second verify: the cloud then answers 404."""

        calls = 0

        async def verify(self, session_id: str, draft: str, commit: str = "", *ids: Any) -> dict[str, Any]:
            ForgetfulVerifier.calls += 1
            if ForgetfulVerifier.calls == 2:
                await self.close(session_id)
            return await super().verify(session_id, draft, commit, *ids)

    for drafter in (PerfectDrafter(expected), drafter_model):  # text, then token ids
        ForgetfulVerifier.calls = 0
        verifier = ForgetfulVerifier(UpstreamClient(cloud.url, CLOUD_TOKEN, 30))
        backend = SpeculativeBackend(drafter, verifier, EDGE_MODEL)
        backend.gamma.min_gamma = backend.gamma.max_gamma = 2
        text, stats = asyncio.run(_generate(backend, PROMPTS[0], 32))
        assert stats.reopened == 1 and stats.token_ids == (drafter is drafter_model)
        assert text == expected


class TextOnly:
    """Test double: the real drafter with its token ids hidden, so drafts go up as text."""

    vocab_fingerprint = None

    def __init__(self, inner: LocalBackend) -> None:
        self.inner = inner

    async def draft(self, prompt: Prompt, n: int, after: Sequence[int] = ()) -> list[DraftToken]:
        return [DraftToken(t.piece, t.logprob, t.end) for t in await self.inner.draft(prompt, n, after)]


@pytest.mark.parametrize("prompt", PROMPTS[1:])
def test_a_drafter_of_the_same_vocabulary_sends_token_ids_and_gets_the_same_answer(
    cloud: NodeServer, drafter_model: LocalBackend, prompt: str
) -> None:
    expected = cloud_greedy(cloud, prompt, 40)
    runs = {}
    for name, drafter in (("ids", drafter_model), ("text", TextOnly(drafter_model))):
        verifier = RemoteVerifier(UpstreamClient(cloud.url, CLOUD_TOKEN, 30))
        runs[name] = asyncio.run(_generate(SpeculativeBackend(drafter, verifier, EDGE_MODEL, mode="exact"), prompt, 40))
    assert runs["ids"][0] == runs["text"][0] == expected
    assert runs["ids"][1].token_ids and not runs["text"][1].token_ids
    assert runs["ids"][1].accepted > 0  # the same model drafts for itself: most of each draft is kept


def test_auto_verifies_in_blocks_only_for_a_drafter_of_the_same_vocabulary(
    cloud: NodeServer, drafter_model: LocalBackend
) -> None:
    chosen = {}
    for name, drafter in (("ids", drafter_model), ("text", TextOnly(drafter_model))):
        verifier = RemoteVerifier(UpstreamClient(cloud.url, CLOUD_TOKEN, 30))
        _, stats = asyncio.run(_generate(SpeculativeBackend(drafter, verifier, EDGE_MODEL), PROMPTS[0], 16))
        chosen[name] = (stats.verify, stats.passes, stats.tokens)
    assert chosen["ids"][0] == "batched" and chosen["text"][0] == "exact"
    assert chosen["ids"][1] < chosen["ids"][2]  # fewer cloud passes than answer tokens: blocks were checked


def test_token_ids_outside_the_vocabulary_are_refused(cloud: NodeServer) -> None:
    base = f"{cloud.url}/v1/speculative/sessions"
    opened = httpx.post(base, json={"messages": [{"role": "user", "content": "hi"}], "max_tokens": 4}, headers=AUTH)
    assert opened.status_code == 201 and len(opened.json()["vocab"]) == 64
    sid = opened.json()["id"]
    for bad in ([-1], [10**9]):
        reply = httpx.post(f"{base}/{sid}/verify", json={"draft": "", "draft_ids": bad}, headers=AUTH)
        assert reply.status_code == 400 and reply.json()["error"]["code"] == "invalid_token_id"
    reopened = httpx.post(
        base, json={"messages": [{"role": "user", "content": "hi"}], "continuation_ids": [-5]}, headers=AUTH
    )
    assert reopened.status_code == 400 and reopened.json()["error"]["param"] == "continuation_ids"
    httpx.delete(f"{base}/{sid}", headers=AUTH)


def test_cloud_down_falls_back_to_the_edge(make_edge: EdgeFactory) -> None:
    edge = make_edge(upstream="http://127.0.0.1:9", upstream_token="x", speculative_model=EDGE_MODEL)
    reply = chat(edge, PROMPTS[0], model="edgesplit/speculative", max_tokens=8)
    meta = reply.model_extra["edgesplit"]
    assert meta["route"] == "edge" and meta["requested"] == "speculative"
    assert meta["fallback"] and meta["upstream_error"]
    assert reply.choices[0].message.content


def test_route_needs_configuration(edge: NodeServer) -> None:
    response = httpx.post(
        f"{edge.url}/v1/chat/completions",
        json={"model": "edgesplit/speculative", "messages": [{"role": "user", "content": "hi"}]},
    )
    assert response.status_code == 400 and "speculative" in response.json()["error"]["message"]


def test_pii_is_redacted_before_drafts_go_up(spec_edge: NodeServer, cloud: NodeServer, monkeypatch: Any) -> None:
    verifier = cloud.node.verifier  # type: ignore[attr-defined]
    seen: list[Prompt] = []
    original = verifier.open

    def recording_open(model: str, prompt: Prompt, *args: Any, **kwargs: Any) -> Any:
        seen.append(prompt)
        return original(model, prompt, *args, **kwargs)

    monkeypatch.setattr(verifier, "open", recording_open)
    chat(spec_edge, "Write a short note to jane.doe@example.com about the meeting.", model="edgesplit/speculative")
    assert seen and all("jane.doe@example.com" not in str(p.messages) for p in seen)


def test_session_api_errors(cloud: NodeServer) -> None:
    base = f"{cloud.url}/v1/speculative/sessions"
    body = {"messages": [{"role": "user", "content": "hi"}], "max_tokens": 2}
    assert httpx.post(base, json=body).status_code == 401
    assert httpx.post(base, json={**body, "prompt": "x"}, headers=AUTH).status_code == 400
    assert httpx.post(base, content=b"{not json", headers=AUTH).status_code == 400
    unknown = httpx.post(base, json={**body, "model": "nope"}, headers=AUTH)
    assert unknown.status_code == 404 and unknown.json()["error"]["code"] == "model_not_found"
    missing = httpx.post(f"{base}/spec_nope/verify", json={"draft": ""}, headers=AUTH)
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "session_not_found"
    opened = httpx.post(base, json=body, headers=AUTH)
    assert opened.status_code == 201
    sid = opened.json()["id"]
    assert httpx.post(f"{base}/{sid}/verify", json={"draft": 3}, headers=AUTH).status_code == 400
    replies = [httpx.post(f"{base}/{sid}/verify", json={"draft": ""}, headers=AUTH).json() for _ in range(2)]
    assert replies[-1]["finished"]
    finished = httpx.post(f"{base}/{sid}/verify", json={"draft": ""}, headers=AUTH)
    assert finished.status_code == 400 and finished.json()["error"]["code"] == "session_finished"
    assert httpx.delete(f"{base}/{sid}", headers=AUTH).status_code == 204
    assert httpx.delete(f"{base}/{sid}", headers=AUTH).status_code == 404


def test_skip_mode_with_a_right_and_sure_drafter_sends_fewer_uploads_and_the_same_answer(cloud: NodeServer) -> None:
    expected = cloud_greedy(cloud, PROMPTS[1], 32)

    async def run(skip: float | None) -> tuple[str, SpeculativeStats]:
        backend = SpeculativeBackend(
            PerfectDrafter(expected), RemoteVerifier(UpstreamClient(cloud.url, CLOUD_TOKEN, 30)), EDGE_MODEL
        )
        stats = SpeculativeStats()
        params = GenerationParams(max_tokens=32, temperature=0, skip_threshold=skip)
        parts = []
        async for event in backend.stream_with_stats(Prompt(messages=(("user", PROMPTS[1]),)), params, stats):
            if isinstance(event, TokenEvent):
                parts.append(event.text)
        await backend.verifier.client.aclose()
        return "".join(parts), stats

    lossless, exact_stats = asyncio.run(run(None))
    skipped, skip_stats = asyncio.run(run(0.5))
    assert lossless == expected
    assert expected.startswith(skipped) and len(skipped) > len(expected) // 2  # committed text is shown once
    assert skip_stats.committed > 0 and skip_stats.committed_agreed == skip_stats.committed
    assert skip_stats.rounds < exact_stats.rounds


def test_metrics_count_uploads_and_acceptance(spec_edge: NodeServer) -> None:
    chat(spec_edge, PROMPTS[2], model="edgesplit/speculative", max_tokens=16)
    text = httpx.get(f"{spec_edge.url}/metrics").text
    values = {
        line.split('"')[1]: float(line.rsplit(" ", 1)[1])
        for line in text.splitlines()
        if line.startswith("edgesplit_speculative_total{")
    }
    assert values["uploads"] >= 1 and values["tokens"] >= 1 and values["drafted"] >= values["accepted"]


@pytest.mark.parametrize("pipeline", [True, False])
def test_pipelined_drafting_keeps_the_answer_and_counts_what_survives(
    cloud: NodeServer, drafter_model: LocalBackend, pipeline: bool
) -> None:
    expected = cloud_greedy(cloud, PROMPTS[1], 40)
    verifier = RemoteVerifier(UpstreamClient(cloud.url, CLOUD_TOKEN, 30))
    backend = SpeculativeBackend(drafter_model, verifier, EDGE_MODEL, mode="exact", pipeline=pipeline)
    text, stats = asyncio.run(_generate(backend, PROMPTS[1], 40))
    assert text == expected
    if pipeline:  # the same model drafts for itself: most pre-drafted blocks are confirmed
        assert stats.pipelined > 0 and 0 < stats.pipelined_kept <= stats.pipelined
    else:
        assert stats.pipelined == 0


class EndingDrafter:
    """Test double: a drafter that always thinks the answer is over."""

    vocab_fingerprint = None

    async def draft(self, prompt: Prompt, n: int, after: Sequence[int] = ()) -> list[DraftToken]:
        return [DraftToken(b"", -0.01, end=True)]


def test_only_the_verifier_ends_a_lossless_answer(cloud: NodeServer) -> None:
    verifier = RemoteVerifier(UpstreamClient(cloud.url, CLOUD_TOKEN, 30))
    text, _ = asyncio.run(_generate(SpeculativeBackend(EndingDrafter(), verifier, EDGE_MODEL), PROMPTS[0], 24))
    assert text == cloud_greedy(cloud, PROMPTS[0], 24)
