"""Both real tiers: SmolLM2-135M on the edge, Qwen2.5-Coder-1.5B in the cloud (the 1.1 GB model)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from conftest import EdgeFactory, chat, client_for
from edgesplit.config import load_settings
from edgesplit.server import NodeServer, build_node

pytestmark = pytest.mark.slow

TOKEN = "qwen-cloud-token"


@pytest.fixture(scope="module")
def qwen_cloud(tmp_path_factory: pytest.TempPathFactory) -> Iterator[NodeServer]:
    settings = load_settings(
        role="cloud",
        port=0,
        api_token=TOKEN,
        data_dir=tmp_path_factory.mktemp("qwen"),
        speculative_model="qwen2.5-coder-1.5b-instruct",
    )
    assert settings.model == "qwen2.5-coder-1.5b-instruct"
    with NodeServer(build_node(settings)) as server:
        yield server


def test_escalation_reaches_the_big_model(make_edge: EdgeFactory, qwen_cloud: NodeServer) -> None:
    edge = make_edge(upstream=qwen_cloud.url, upstream_token=TOKEN, cascade_threshold=0.0)
    reply = chat(edge, "Write a Python function is_even(n). Only code.", max_tokens=48)
    meta = reply.model_extra["edgesplit"]
    assert meta["route"] == "cloud" and meta["rule"] == "cascade-escalated" and not meta["fallback"]
    assert "def is_even" in reply.choices[0].message.content


def test_cloud_stream_through_edge_equals_direct_cloud(make_edge: EdgeFactory, qwen_cloud: NodeServer) -> None:
    edge = make_edge(upstream=qwen_cloud.url, upstream_token=TOKEN)
    messages = [{"role": "user", "content": "What is 17 * 3? Answer with the number."}]
    via_edge = client_for(edge).chat.completions.create(
        model="edgesplit/cloud", messages=messages, max_tokens=16, temperature=0, stream=True
    )
    text = "".join(c.choices[0].delta.content or "" for c in via_edge if c.choices)
    direct = client_for(qwen_cloud, api_key=TOKEN).chat.completions.create(
        model="default", messages=messages, max_tokens=16, temperature=0
    )
    assert text == direct.choices[0].message.content
    assert "51" in text


@pytest.mark.parametrize(
    "prompt",
    [
        "Write a Python function that returns the factorial of n.",
        "How do I reset my password if I forgot it?",
        "Explain what a hash map is in two sentences.",
    ],
)
def test_speculative_across_tokenizers_equals_cloud_greedy(
    make_edge: EdgeFactory, qwen_cloud: NodeServer, prompt: str
) -> None:
    """SmolLM2 (49k vocabulary) drafts, Qwen2.5 (152k vocabulary) verifies: Qwen's own greedy answer."""
    edge = make_edge(upstream=qwen_cloud.url, upstream_token=TOKEN, speculative_model="qwen2.5-coder-1.5b-instruct")
    messages = [{"role": "user", "content": prompt}]
    speculative = client_for(edge).chat.completions.create(
        model="edgesplit/speculative", messages=messages, max_tokens=48, temperature=0
    )
    assert speculative.model_extra["edgesplit"]["route"] == "speculative"
    direct = client_for(qwen_cloud, api_key=TOKEN).chat.completions.create(
        model="default", messages=messages, max_tokens=48, temperature=0
    )
    assert speculative.choices[0].message.content == direct.choices[0].message.content
    assert speculative.usage.completion_tokens == direct.usage.completion_tokens
