"""Privacy end to end: nothing raw reaches the upstream, answers come back restored, policies hold."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from conftest import EdgeFactory, client_for
from doubles import RecordingEcho
from edgesplit.server import AppServer, NodeServer

# A labelled corpus: each message with the raw values that must never leave the edge.
CORPUS: list[tuple[str, list[str]]] = [
    (
        "Hi, I'm Alice Walker. My email is alice.walker@example.com and my phone is (415) 555-2671.",
        ["Alice Walker", "alice.walker@example.com", "(415) 555-2671"],
    ),
    (
        "Please charge card 4111 1111 1111 1111 and file SSN 123-45-6789 for patient MRN 00123456.",
        ["4111 1111 1111 1111", "123-45-6789", "00123456"],
    ),
    (
        "Olá, meu nome é João Pereira, CPF 529.982.247-25, da empresa CNPJ 11.222.333/0001-81, "
        "telefone +55 11 98765-4321, data de nascimento 12/05/1990.",
        ["João Pereira", "529.982.247-25", "11.222.333/0001-81", "+55 11 98765-4321", "12/05/1990"],
    ),
    (
        "Wire it to GB82 WEST 1234 5698 7654 32; the scanner at 10.20.30.40 keeps rebooting.",
        ["GB82 WEST 1234 5698 7654 32", "10.20.30.40"],
    ),
]


@pytest.fixture
def echo_upstream() -> Iterator[tuple[RecordingEcho, AppServer]]:
    echo = RecordingEcho()
    with AppServer(echo.app) as server:
        yield echo, server


@pytest.fixture
def echo_edge(
    make_edge: EdgeFactory, echo_upstream: tuple[RecordingEcho, AppServer]
) -> tuple[NodeServer, RecordingEcho]:
    echo, server = echo_upstream
    return make_edge(upstream=server.url), echo


def _ask_cloud(edge: NodeServer, text: str, stream: bool, **extra: Any) -> tuple[str, dict[str, Any]]:
    client = client_for(edge)
    messages = [{"role": "user", "content": text}]
    if stream:
        chunks = list(client.chat.completions.create(model="edgesplit/cloud", messages=messages, stream=True, **extra))
        answer = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
        return answer, chunks[0].model_extra["edgesplit"]
    reply = client.chat.completions.create(model="edgesplit/cloud", messages=messages, **extra)
    return reply.choices[0].message.content, reply.model_extra["edgesplit"]


@pytest.mark.parametrize("stream", [False, True])
def test_no_raw_value_reaches_upstream_and_answers_round_trip(
    echo_edge: tuple[NodeServer, RecordingEcho], stream: bool
) -> None:
    edge, echo = echo_edge
    for text, values in CORPUS:
        answer, meta = _ask_cloud(edge, text, stream)
        assert answer == text  # the echo of the redacted prompt, restored exactly
        assert meta["route"] == "cloud" and meta["privacy"]["action"] == "redact"
        assert sum(meta["privacy"]["redacted"].values()) >= len(values)
    seen = echo.seen()
    for _, values in CORPUS:
        for value in values:
            assert value not in seen, value
    assert "<PERSON_1>" in seen and "<BR_CPF_1>" in seen


def test_placeholders_are_stable_across_turns(echo_edge: tuple[NodeServer, RecordingEcho]) -> None:
    edge, echo = echo_edge
    client = client_for(edge)
    turn1 = [{"role": "user", "content": "My name is Alice Walker, email alice@example.com."}]
    client.chat.completions.create(model="edgesplit/cloud", messages=turn1)
    turn2 = [
        *turn1,
        {"role": "assistant", "content": "Noted."},
        {"role": "user", "content": "Also cc bob@example.com and alice@example.com."},
    ]
    client.chat.completions.create(model="edgesplit/cloud", messages=turn2)
    first, second = (json.loads(b)["messages"] for b in echo.bodies)
    assert "<EMAIL_ADDRESS_1>" in first[0]["content"]
    assert second[0]["content"] == first[0]["content"]  # same values, same placeholders, next request
    assert "<EMAIL_ADDRESS_2>" in second[2]["content"] and "<EMAIL_ADDRESS_1>" in second[2]["content"]


def test_local_only_never_leaves(echo_edge: tuple[NodeServer, RecordingEcho]) -> None:
    edge, echo = echo_edge
    answer, meta = _ask_cloud(edge, CORPUS[0][0], False, extra_headers={"x-edgesplit-privacy": "local-only"})
    assert meta["route"] == "edge" and meta["rule"] == "local-only" and answer
    assert echo.bodies == []
    batch = httpx.post(
        f"{edge.url}/v1/chat/completions",
        json={"model": "edgesplit/cloud", "messages": [{"role": "user", "content": "x"}]},
        headers={"x-edgesplit-priority": "batch", "x-edgesplit-privacy": "local-only"},
    )
    assert batch.status_code == 400 and batch.json()["error"]["code"] == "privacy_local_only"
    assert echo.bodies == []


def test_allow_sends_raw_text(echo_edge: tuple[NodeServer, RecordingEcho]) -> None:
    edge, echo = echo_edge
    _ask_cloud(edge, CORPUS[0][0], False, extra_body={"edgesplit": {"privacy": "allow"}})
    assert "alice.walker@example.com" in echo.seen()


def test_rules_refuse_and_tighten(make_edge: EdgeFactory, echo_upstream: tuple[RecordingEcho, AppServer]) -> None:
    echo, server = echo_upstream
    rules = [
        {"name": "no-ssn", "action": "refuse", "entity_types": ["US_SSN"]},
        {"name": "scanner-data", "action": "local-only", "sources": ["ct-scanner"]},
        {"name": "project-words", "action": "local-only", "pattern": "(?i)confidential"},
    ]
    edge = make_edge(upstream=server.url, privacy_rules=rules)
    body = {"model": "edgesplit/cloud", "messages": [{"role": "user", "content": CORPUS[1][0]}]}
    refused = httpx.post(f"{edge.url}/v1/chat/completions", json=body)
    assert refused.status_code == 403
    error = refused.json()["error"]
    assert "no-ssn" in error["message"] and error["code"] == "privacy_refused"
    assert "123-45-6789" not in error["message"]
    # a rule beats the request's own "allow"
    _, meta = _ask_cloud(edge, "Confidential: the plan", False, extra_headers={"x-edgesplit-privacy": "allow"})
    assert meta["rule"] == "local-only" and meta["privacy"]["rule"] == "project-words"
    _, meta = _ask_cloud(edge, "Reading 42", False, extra_headers={"x-edgesplit-source": "ct-scanner"})
    assert meta["route"] == "edge" and meta["privacy"]["rule"] == "scanner-data"
    assert echo.bodies == []


def test_request_can_refuse_itself(echo_edge: tuple[NodeServer, RecordingEcho]) -> None:
    edge, echo = echo_edge
    body = {"model": "edgesplit/auto", "messages": [{"role": "user", "content": "hi"}]}
    refused = httpx.post(f"{edge.url}/v1/chat/completions", json=body, headers={"x-edgesplit-privacy": "refuse"})
    assert refused.status_code == 403 and "'request'" in refused.json()["error"]["message"]
    assert echo.bodies == []


def test_bad_privacy_inputs(echo_edge: tuple[NodeServer, RecordingEcho]) -> None:
    edge, _ = echo_edge
    body = {"model": "edgesplit/cloud", "messages": [{"role": "user", "content": "hi"}]}
    bad = httpx.post(f"{edge.url}/v1/chat/completions", json={**body, "edgesplit": {"privacy": "maybe"}})
    assert bad.status_code == 400 and bad.json()["error"]["param"] == "edgesplit.privacy"
    long_id = httpx.post(f"{edge.url}/v1/chat/completions", json={**body, "edgesplit": {"conversation": "x" * 500}})
    assert long_id.status_code == 400
    huge = {"model": "edgesplit/cloud", "messages": [{"role": "user", "content": "bob@example.com " * 70_000}]}
    assert httpx.post(f"{edge.url}/v1/chat/completions", json=huge).status_code == 413


def test_nothing_of_the_vault_in_logs_or_metrics(
    echo_edge: tuple[NodeServer, RecordingEcho], caplog: pytest.LogCaptureFixture
) -> None:
    edge, _ = echo_edge
    with caplog.at_level(logging.DEBUG):
        for text, _ in CORPUS:
            _ask_cloud(edge, text, True)
    metrics = httpx.get(f"{edge.url}/metrics").text
    for _, values in CORPUS:
        for value in values:
            assert value not in caplog.text and value not in metrics


def test_deferred_job_is_redacted_and_restored(echo_edge: tuple[NodeServer, RecordingEcho]) -> None:
    edge, echo = echo_edge
    text = CORPUS[0][0]
    job = httpx.post(
        f"{edge.url}/v1/chat/completions",
        json={"model": "edgesplit/auto", "messages": [{"role": "user", "content": text}]},
        headers={"x-edgesplit-priority": "batch"},
    ).json()
    deadline = time.monotonic() + 30
    while (record := httpx.get(f"{edge.url}/v1/jobs/{job['id']}").json())["status"] != "done":
        assert time.monotonic() < deadline
        time.sleep(0.05)
    assert record["restored"] is True and record["result"]["choices"][0]["message"]["content"] == text
    assert "alice.walker@example.com" not in echo.seen()
