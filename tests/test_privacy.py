"""Privacy end to end: nothing raw reaches the upstream, answers come back restored, policies hold."""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from conftest import EdgeFactory, ask_cloud, client_for, free_port
from doubles import RecordingEcho, breaking_upstream
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
def echo_edge(
    make_edge: EdgeFactory, echo_upstream: tuple[RecordingEcho, AppServer]
) -> tuple[NodeServer, RecordingEcho]:
    echo, server = echo_upstream
    return make_edge(upstream=server.url), echo


@pytest.mark.parametrize("stream", [False, True])
def test_no_raw_value_reaches_upstream_and_answers_round_trip(
    echo_edge: tuple[NodeServer, RecordingEcho], stream: bool
) -> None:
    edge, echo = echo_edge
    for text, values in CORPUS:
        answer, meta = ask_cloud(edge, text, stream)
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
    answer, meta = ask_cloud(edge, CORPUS[0][0], False, extra_headers={"x-edgesplit-privacy": "local-only"})
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
    ask_cloud(edge, CORPUS[0][0], False, extra_body={"edgesplit": {"privacy": "allow"}})
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
    _, meta = ask_cloud(edge, "Confidential: the plan", False, extra_headers={"x-edgesplit-privacy": "allow"})
    assert meta["rule"] == "local-only" and meta["privacy"]["rule"] == "project-words"
    _, meta = ask_cloud(edge, "Reading 42", False, extra_headers={"x-edgesplit-source": "ct-scanner"})
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
            ask_cloud(edge, text, True)
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
    record = _when_done(edge, job["id"])
    assert record["restored"] is True and record["result"]["choices"][0]["message"]["content"] == text
    assert "alice.walker@example.com" not in echo.seen()


@pytest.mark.parametrize("stream", [False, True])
def test_a_partial_placeholder_held_back_survives_a_broken_upstream(make_edge: EdgeFactory, stream: bool) -> None:
    """The upstream dies right after '<PERS': those characters were held back (they could have become
    <PERSON_1>) and must reach the client before the edge finishes the answer."""
    with AppServer(breaking_upstream(["Dear ", "<PERS"])) as breaking:
        edge = make_edge(upstream=breaking.url)
        answer, meta = ask_cloud(edge, "My name is Alice Walker, please write me a greeting.", stream, max_tokens=12)
    assert answer.startswith("Dear <PERS"), answer
    assert meta["fallback"] is True and "finished on the edge" in meta["reason"]


def test_a_deferred_job_answered_after_an_edge_restart_comes_back_restored(
    make_edge: EdgeFactory, echo_upstream: tuple[RecordingEcho, AppServer], tmp_path: Path
) -> None:
    """The job is deferred while the cloud is unreachable; the edge stops (its vault is gone); a new edge
    on the same data dir delivers the job and restores the answer from the sealed mapping."""
    echo, server = echo_upstream
    text = CORPUS[0][0]
    first = make_edge(upstream=f"http://127.0.0.1:{free_port()}", data_dir=tmp_path)
    job = httpx.post(
        f"{first.url}/v1/chat/completions",
        json={"model": "edgesplit/auto", "messages": [{"role": "user", "content": text}]},
        headers={"x-edgesplit-priority": "batch"},
    ).json()
    first.stop()
    sealed_file = (tmp_path / "vault.sqlite").read_bytes()
    for value in CORPUS[0][1]:
        assert value.encode() not in sealed_file  # encrypted at rest
    second = make_edge(upstream=server.url, data_dir=tmp_path)
    record = _when_done(second, job["id"])
    assert record["restored"] is True and record["result"]["choices"][0]["message"]["content"] == text
    assert "alice.walker@example.com" not in echo.seen()


def _when_done(edge: NodeServer, job_id: str, timeout_s: float = 30.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout_s
    while (record := httpx.get(f"{edge.url}/v1/jobs/{job_id}").json())["status"] != "done":
        assert time.monotonic() < deadline, record
        time.sleep(0.05)
    return record  # type: ignore[no-any-return]


STRUCTURED = {
    "EMAIL_ADDRESS", "PHONE_NUMBER", "CREDIT_CARD", "IBAN", "US_SSN", "BR_CPF", "BR_CNPJ", "IP_ADDRESS",
    "DATE_OF_BIRTH", "DATE", "MEDICAL_RECORD", "CASE_NUMBER",
}  # fmt: skip


@pytest.mark.parametrize("corpus", ["tuning", "unseen", "holdout", "blind", "field", "intake"])
@pytest.mark.parametrize("stream", [False, True])
def test_no_structured_value_of_either_corpus_reaches_upstream(
    echo_edge: tuple[NodeServer, RecordingEcho], corpus: str, stream: bool
) -> None:
    """40 messages of each labelled corpus through the edge to a recording upstream: not one structured
    value arrives there, and every answer comes back restored exactly."""
    from edgesplit.evaluation import pii_corpus

    edge, echo = echo_edge
    messages = getattr(pii_corpus, f"{corpus}_corpus")(40)
    for message in messages:
        answer, _ = ask_cloud(edge, message.text, stream)
        assert answer == message.text
    seen = "\n".join(m["content"] for body in echo.bodies for m in json.loads(body)["messages"])
    leaked = [
        (label.type, message.text[label.start : label.end])
        for message in messages
        for label in message.labels
        if label.type in STRUCTURED and message.text[label.start : label.end] in seen
    ]
    assert leaked == []
