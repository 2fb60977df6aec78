"""The edge serving with a calibrated router artifact: hidden-state scoring, rules, reload, fallback."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from conftest import CLOUD_TOKEN, EDGE_MODEL, EdgeFactory, chat, route_info
from edgesplit.admission import ModelQueue
from edgesplit.generation import GenerationParams, Prompt, PromptState
from edgesplit.llama.backend import LocalBackend
from edgesplit.models import locate_model
from edgesplit.routing.artifact import RouterArtifact, save_artifact
from edgesplit.routing.embedding import prompt_embedder
from edgesplit.routing.scorer import CUE_NAMES, FeatureKind, LinearScorer, PromptView, fit_scorer
from edgesplit.server import NodeServer

CODING = [
    "Write a Python function that merges two sorted lists.",
    "Implement binary search in C++.",
    "Write a SQL query that finds duplicate emails.",
    "Write a JavaScript function to debounce another function.",
    "Implement a linked list class in Java.",
    "Write a Rust function that parses an integer from a string.",
]
CHAT = [
    "Hello! How are you today?",
    "Good morning, nice to meet you.",
    "Thanks a lot for your help!",
    "Hi there, have a lovely weekend.",
    "Good night and sleep well.",
    "Hey, what's up?",
]
HELD_OUT = {"Write a Go function that reverses a slice.": "cloud", "Hello friend, good to see you!": "edge"}


def _hidden_states(prompts: list[str]) -> list[PromptView]:
    """Each prompt's hidden state, read by the gate; the gate says no, so nothing is generated."""
    backend = LocalBackend(EDGE_MODEL, locate_model(EDGE_MODEL), ModelQueue(EDGE_MODEL, 4, 1))
    states: list[PromptState] = []

    async def read(prompt: str) -> None:
        params = GenerationParams(max_tokens=4, temperature=0.0)
        async for _ in backend.stream(
            Prompt(messages=(("user", prompt),)), params, lambda s: states.append(s) and False
        ):
            pass

    try:
        for prompt in prompts:
            asyncio.run(read(prompt))
    finally:
        backend.close()
    return [PromptView(p, len(s.tokens), hidden=s.hidden) for s, p in zip(states, prompts, strict=True)]


def _vector_only_router(kind: FeatureKind, views: list[PromptView], path: Path, version: str) -> Path:
    """Fit on CODING (bad on the edge) vs CHAT (good), then zero the cue weights: only the vector decides."""
    fitted = fit_scorer(kind, views, [-1.0] * len(CODING) + [0.0] * len(CHAT))
    coef = fitted.coef.copy()
    coef[-len(CUE_NAMES) :] = 0.0
    scorer = LinearScorer(kind, fitted.mean, fitted.scale, coef, fitted.intercept)
    training = scorer.score_many(views)
    threshold = (max(training[: len(CODING)]) + min(training[len(CODING) :])) / 2
    save_artifact(RouterArtifact.from_scorer(scorer, EDGE_MODEL, threshold, version=version), path)
    return path


@pytest.fixture(scope="module")
def hidden_router(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("router") / "router.json"
    return _vector_only_router("hidden+cues", _hidden_states(CODING + CHAT), path, "hidden-v1")


@pytest.fixture(scope="module")
def embed_router(tmp_path_factory: pytest.TempPathFactory) -> Path:
    embed = prompt_embedder(locate_model(EDGE_MODEL))
    views = [PromptView(p, 0, embedded=embed(p)) for p in CODING + CHAT]
    path = tmp_path_factory.mktemp("router") / "router.json"
    return _vector_only_router("embed+cues", views, path, "embed-v1")


def _cue_router(path: Path, threshold: float, version: str, **rules: Any) -> Path:
    """A cues-only router: the code cue sends a prompt to the cloud."""
    n = len(CUE_NAMES)
    coef = np.zeros(n)
    coef[CUE_NAMES.index("code")] = -10.0
    scorer = LinearScorer("cues", np.zeros(n), np.ones(n), coef, 5.0)
    artifact = RouterArtifact.from_scorer(scorer, EDGE_MODEL, threshold, version=version)
    if rules:
        artifact = artifact.model_copy(update={"rules": artifact.rules.model_copy(update=rules)})
    save_artifact(artifact, path)
    return path


def _edge(make_edge: EdgeFactory, cloud: NodeServer, artifact: Path, **overrides: Any) -> NodeServer:
    return make_edge(upstream=cloud.url, upstream_token=CLOUD_TOKEN, router_artifact=artifact, **overrides)


def _routes_held_out_prompts(edge: NodeServer, version: str) -> None:
    for prompt, expected in HELD_OUT.items():
        meta = route_info(chat(edge, prompt, max_tokens=8))
        assert meta["route"] == expected, meta
        assert meta["rule"] == ("learned-kept" if expected == "edge" else "learned-escalated")
        assert meta["router"] == version and meta["score"] is not None and meta["threshold"] is not None


def test_hidden_state_router_routes_unseen_prompts(
    make_edge: EdgeFactory, cloud: NodeServer, hidden_router: Path
) -> None:
    edge = _edge(make_edge, cloud, hidden_router)
    _routes_held_out_prompts(edge, "hidden-v1")
    chunks = list(chat(edge, "Write a Go function that reverses a slice.", max_tokens=8, stream=True))
    assert route_info(chunks[0])["route"] == "cloud"
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    kept = list(chat(edge, "Hello friend, good to see you!", max_tokens=8, stream=True))
    assert (
        route_info(kept[0])["route"] == "edge" and sum(bool(c.choices and c.choices[0].delta.content) for c in kept) > 1
    )


def test_token_embedding_router_routes_unseen_prompts(
    make_edge: EdgeFactory, cloud: NodeServer, embed_router: Path
) -> None:
    _routes_held_out_prompts(_edge(make_edge, cloud, embed_router), "embed-v1")


def test_edge_answer_is_the_same_as_the_forced_edge_answer(
    make_edge: EdgeFactory, cloud: NodeServer, hidden_router: Path
) -> None:
    edge = _edge(make_edge, cloud, hidden_router)
    prompt = "Hello friend, good to see you!"
    routed = chat(edge, prompt, max_tokens=16)
    forced = chat(edge, prompt, max_tokens=16, model="edgesplit/edge")
    assert route_info(routed)["route"] == "edge"
    assert routed.choices[0].message.content == forced.choices[0].message.content


def test_rules_compose_with_the_score(make_edge: EdgeFactory, cloud: NodeServer, tmp_path: Path) -> None:
    artifact = _cue_router(tmp_path / "r.json", 0.5, "cues-v1", cloud_latency_ms=2000.0, max_edge_prompt_tokens=60)
    edge = _edge(make_edge, cloud, artifact)
    code, hello = "Write python code to sort a list.", "Hello there!"
    assert route_info(chat(edge, code))["rule"] == "learned-escalated"
    assert route_info(chat(edge, hello))["rule"] == "learned-kept"
    sensitive = route_info(chat(edge, code, extra_body={"edgesplit": {"tags": ["sensitive"]}}))
    assert sensitive["route"] == "edge" and sensitive["rule"] == "rule" and "sensitive" in sensitive["reason"]
    quality = route_info(chat(edge, hello, extra_body={"edgesplit": {"tags": ["quality"]}}))
    assert quality["route"] == "cloud" and quality["rule"] == "rule"
    hurried = route_info(chat(edge, code, extra_body={"edgesplit": {"latency_budget_ms": 500}}))
    assert hurried["route"] == "edge" and "latency budget" in hurried["reason"]
    long = route_info(chat(edge, "Hello there! " * 40))
    assert long["route"] == "cloud" and "edge limit 60" in long["reason"]


def test_missing_artifact_routes_with_the_cascade(make_edge: EdgeFactory, cloud: NodeServer, tmp_path: Path) -> None:
    edge = _edge(make_edge, cloud, tmp_path / "not-there.json", cascade_threshold=-50.0)
    assert route_info(chat(edge, "Hello there!"))["rule"] == "cascade-kept"


def test_artifact_is_reloaded_on_change_and_a_bad_one_is_ignored(
    make_edge: EdgeFactory, cloud: NodeServer, tmp_path: Path
) -> None:
    path = _cue_router(tmp_path / "router.json", 0.5, "v1")
    edge = _edge(make_edge, cloud, path, router_reload_s=0.1)
    assert route_info(chat(edge, "Hello there!"))["router"] == "v1"
    _cue_router(path, 10.0, "v2")  # everything to the cloud

    def router_of_next_reply() -> dict[str, Any]:
        deadline = time.monotonic() + 5
        while True:
            meta = route_info(chat(edge, "Hello there!", max_tokens=4))
            if meta["router"] == "v2" or time.monotonic() > deadline:
                return meta

    meta = router_of_next_reply()
    assert meta["router"] == "v2" and meta["route"] == "cloud"
    data = json.loads(path.read_text())
    data["threshold"] = 0.0  # edited by hand: the checksum no longer matches
    path.write_text(json.dumps(data))
    time.sleep(0.5)
    meta = route_info(chat(edge, "Hello there!", max_tokens=4))
    assert meta["router"] == "v2" and meta["route"] == "cloud"


def test_a_node_routes_with_the_router_packaged_for_its_model(make_edge: EdgeFactory, cloud: NodeServer) -> None:
    edge = make_edge(upstream=cloud.url, upstream_token=CLOUD_TOKEN, router_packaged=True)
    reply = chat(edge, "What is the capital of France?", max_tokens=8)
    info = route_info(reply)
    assert info["rule"].startswith("learned") or info["rule"] == "rule"
    assert info["router"]  # the packaged artifact's version


def test_a_model_without_a_packaged_router_falls_back_to_the_cascade(caplog: pytest.LogCaptureFixture) -> None:
    from edgesplit.routing.learned import packaged_router, router_path

    assert packaged_router("smollm2-135m-instruct") is not None
    assert packaged_router("qwen2.5-coder-0.5b-instruct") is not None  # the local tier's, from calibrate-ladder
    with caplog.at_level("WARNING"):
        assert router_path(None, "qwen2.5-coder-1.5b-instruct", use_packaged=True) is None  # the top tier
    assert "no router is packaged" in caplog.text
    assert router_path(None, "smollm2-135m-instruct", use_packaged=False) is None  # the cascade, asked for
