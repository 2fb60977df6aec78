"""Vault placeholders and restoration, whole and streamed in tiny chunks."""

from __future__ import annotations

import pytest

from edgesplit.privacy.restore import StreamRestorer, restore
from edgesplit.privacy.vault import Mapping, Vault, conversation_id


@pytest.fixture
def mapping() -> Mapping:
    m = Mapping()
    m.placeholder("PERSON", "João Silva")
    m.placeholder("EMAIL_ADDRESS", "joao@example.com")
    m.placeholder("PERSON", "Ann Lee")
    return m


def test_placeholders_are_typed_and_stable(mapping: Mapping) -> None:
    assert mapping.placeholder("PERSON", "João Silva") == "<PERSON_1>"
    assert mapping.placeholder("PERSON", "Ann Lee") == "<PERSON_2>"
    assert mapping.placeholder("EMAIL_ADDRESS", "joao@example.com") == "<EMAIL_ADDRESS_1>"
    assert "João" not in repr(mapping)


def test_vault_ttl_and_conversations() -> None:
    now = [0.0]
    vault = Vault(ttl_s=10, clock=lambda: now[0])
    first = vault.mapping("c1")
    first.placeholder("PERSON", "X")
    now[0] = 5
    assert vault.mapping("c1") is first  # used again: TTL restarts
    now[0] = 14
    assert vault.get("c1") is first
    now[0] = 30
    assert vault.get("c1") is None and len(vault) == 0
    assert conversation_id(None, "hello") == conversation_id(None, "hello") != conversation_id(None, "bye")
    assert "hello" not in conversation_id(None, "hello") and "secret" not in repr(vault)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Hi <PERSON_1>!", "Hi João Silva!"),
        ("Hi [person_1] and {Person 2}", "Hi João Silva and Ann Lee"),
        ("Mail < EMAIL_ADDRESS-1 > now", "Mail joao@example.com now"),
        ("Bare PERSON_2 works", "Bare Ann Lee works"),
        ("Unknown <PERSON_7> and <ORG_1> stay", "Unknown <PERSON_7> and <ORG_1> stay"),
        ("a person 1 day (item 2) I <3 you", "a person 1 day (item 2) I <3 you"),
    ],
)
def test_restore_variants(mapping: Mapping, text: str, expected: str) -> None:
    assert restore(mapping, text) == expected


@pytest.mark.parametrize("size", [1, 2, 3])
def test_stream_restore_equals_whole(mapping: Mapping, size: int) -> None:
    text = "Dear <PERSON_1>, write to [email_address_1] or PERSON_2; <PERSON_9> is unknown. <3 (x) [y]"
    restorer = StreamRestorer(mapping)
    out = "".join(restorer.feed(text[i : i + size]) for i in range(0, len(text), size)) + restorer.flush()
    assert out == restore(mapping, text)


def test_stream_holds_back_only_possible_placeholders(mapping: Mapping) -> None:
    restorer = StreamRestorer(mapping)
    assert restorer.feed("Hello there, ") == "Hello there, "  # nothing that could start a placeholder
    assert restorer.feed("dear <PER") == "dear "
    assert restorer.feed("SON_1> and") == "João Silva and"
    assert restorer.feed(" <3 love") == " <3 love"  # "<3" cannot become a placeholder
    assert restorer.flush() == ""


def test_stream_without_mapping_passes_through() -> None:
    restorer = StreamRestorer(Mapping())
    assert restorer.feed("<PERSON_1") == "<PERSON_1" and restorer.flush() == ""


def test_placeholders_stay_unique_when_threads_redact_one_conversation() -> None:
    """NER runs in worker threads: two requests of one conversation must never share a number."""
    import sys
    import threading

    mapping = Mapping()
    barrier = threading.Barrier(8)
    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # switch threads as often as possible, so a race shows

    def redact(worker: int) -> None:
        barrier.wait()
        for i in range(300):
            mapping.placeholder("PERSON", f"name {worker}-{i}")

    threads = [threading.Thread(target=redact, args=(w,)) for w in range(8)]
    try:
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    finally:
        sys.setswitchinterval(interval)
    assert len(mapping.value_of) == len(mapping.by_value) == 8 * 300 == mapping.counters["PERSON"]
    assert all(mapping.value_of[p] == v for (_, v), p in mapping.by_value.items())
