"""Verify sessions in-process: greedy equivalence, rollback after partial acceptance, parking, limits.

The reference is the model's own plain greedy decoding (llama.cpp ``generate`` from an empty
cache), in a second, independent llama.cpp context.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from llama_cpp import Llama

from conftest import EDGE_MODEL
from edgesplit.cloud.verifier import Verifier, VerifySession
from edgesplit.errors import InvalidRequest, NotFound, QueueFull
from edgesplit.generation import Prompt
from edgesplit.llama.tokenizer import ChatTokenizer
from edgesplit.models import locate_model

PROMPTS = ["Name three primary colors.", "Write a Python function that adds two numbers.", "What is a router?"]


@pytest.fixture(scope="module")
def verifier() -> Iterator[Verifier]:
    v = Verifier(EDGE_MODEL, locate_model(EDGE_MODEL), n_ctx=1024)
    yield v
    v.close_model()


@pytest.fixture(scope="module")
def reference() -> Iterator[tuple[Llama, ChatTokenizer]]:
    llm = Llama(model_path=str(locate_model(EDGE_MODEL)), n_ctx=1024, n_threads=2, verbose=False)
    yield llm, ChatTokenizer(llm)
    llm.close()


def greedy(reference: tuple[Llama, ChatTokenizer], prompt: str, n: int) -> list[int]:
    """Plain greedy decoding from an empty cache: what the verifier must reproduce token for token."""
    llm, tokenizer = reference
    llm.reset()
    out: list[int] = []
    for token in llm.generate(tokenizer.encode(Prompt(messages=(("user", prompt),))), temp=0.0, top_k=1):
        if tokenizer.is_end(token) or len(out) >= n:
            break
        out.append(token)
    return out


def text_of(verifier: Verifier, tokens: list[int]) -> str:
    return b"".join(verifier.tokenizer.piece(t) for t in tokens).decode("utf-8", errors="replace")


def open_session(verifier: Verifier, prompt: str, n: int, **kwargs: object) -> VerifySession:
    return verifier.open("default", Prompt(messages=(("user", prompt),)), n, **kwargs)  # type: ignore[arg-type]


@pytest.mark.parametrize("prompt", PROMPTS)
def test_perfect_drafts_are_accepted_and_the_answer_is_plain_greedy(
    verifier: Verifier, reference: tuple[Llama, ChatTokenizer], prompt: str
) -> None:
    ref = greedy(reference, prompt, 40)
    session = open_session(verifier, prompt, 40)
    rounds = accepted = drafted = 0
    while not session.finished:
        done = len(session.generated)
        result = verifier.verify(session, text_of(verifier, ref[done : done + 5]))
        rounds, accepted, drafted = rounds + 1, accepted + result.accepted, drafted + result.drafted
    assert session.generated == ref
    assert accepted / drafted > 0.9  # drafts of the true continuation survive re-tokenization at the seam
    assert rounds < len(ref) / 3


def test_bad_drafts_are_rejected_and_the_answer_is_still_plain_greedy(
    verifier: Verifier, reference: tuple[Llama, ChatTokenizer]
) -> None:
    ref = greedy(reference, PROMPTS[0], 24)
    session = open_session(verifier, PROMPTS[0], 24)
    while not session.finished:
        result = verifier.verify(session, " zebra quantum 42 ###")
        assert result.accepted == 0 and result.tokens == (0 if result.finish_reason == "stop" else 1)
    assert session.generated == ref


@pytest.mark.parametrize("mode", ["exact", "batched"])
def test_partial_acceptance_rolls_the_cache_back(
    verifier: Verifier, reference: tuple[Llama, ChatTokenizer], mode: str
) -> None:
    ref = greedy(reference, PROMPTS[1], 24)
    session = open_session(verifier, PROMPTS[1], 24, mode=mode)
    first = verifier.verify(session, text_of(verifier, ref[:3]) + " banana banana banana")
    assert first.accepted == 3 and first.drafted > 3
    assert session.generated == ref[:4]  # three accepted + the verifier's own token
    assert verifier._llm.n_tokens == len(session.tokens) - 1  # rejected positions are gone; own token pending
    while not session.finished:
        done = len(session.generated)
        verifier.verify(session, text_of(verifier, ref[done : done + 4]))
    if mode == "exact":
        assert session.generated == ref
    else:  # batched kernels round differently: same length, and the rolled-back prefix is right
        assert session.generated[:4] == ref[:4] and len(session.generated) == len(ref)


def test_interleaved_sessions_park_and_restore_their_caches(
    verifier: Verifier, reference: tuple[Llama, ChatTokenizer]
) -> None:
    refs = [greedy(reference, p, 16) for p in PROMPTS[:2]]
    sessions = [open_session(verifier, p, 16) for p in PROMPTS[:2]]
    while not all(s.finished for s in sessions):
        for session in sessions:
            if not session.finished:
                result = verifier.verify(session, "")
                assert result.evaluated == 1 or len(session.generated) == 1  # restored, not re-evaluated
    assert [s.generated for s in sessions] == refs


def test_commit_is_appended_and_its_agreement_counted(
    verifier: Verifier, reference: tuple[Llama, ChatTokenizer]
) -> None:
    ref = greedy(reference, PROMPTS[0], 24)
    session = open_session(verifier, PROMPTS[0], 24)
    result = verifier.verify(session, draft="", commit=text_of(verifier, ref[:4]) + " Purple")
    assert result.committed >= 5 and result.committed_agreed == 4
    assert session.generated[:4] == ref[:4]
    assert text_of(verifier, session.generated).startswith(text_of(verifier, ref[:4]) + " Purple")
    assert result.text == text_of(verifier, session.generated)[len(text_of(verifier, ref[:4]) + " Purple") :]


def test_finish_reasons(verifier: Verifier) -> None:
    session = open_session(verifier, PROMPTS[0], 3)
    result = verifier.verify(session, "")
    while not result.finished:
        result = verifier.verify(session, "")
    assert result.finish_reason == "length" and len(session.generated) == 3
    with pytest.raises(InvalidRequest, match="finished"):
        verifier.verify(session, "")
    short = open_session(verifier, "Reply with just the word yes.", 64)
    while not short.finished:
        verifier.verify(short, "")
    assert short.finish_reason == "stop" and len(short.generated) < 64


def test_limits_and_unknown_sessions(verifier: Verifier) -> None:
    session = open_session(verifier, PROMPTS[0], 8)
    with pytest.raises(InvalidRequest, match="limit"):
        verifier.verify(session, "word " * 200)
    with pytest.raises(NotFound):
        verifier.open("other-model", Prompt(messages=(("user", "hi"),)), 8)
    verifier.close(session.id)
    with pytest.raises(NotFound):
        verifier.get(session.id)


def test_sessions_expire_and_are_capped(verifier: Verifier) -> None:
    now = [0.0]
    table = verifier.sessions
    clock, ttl, cap = table.clock, table.ttl_s, verifier.max_sessions
    table.clock, table.ttl_s, verifier.max_sessions = (lambda: now[0]), 10.0, len(verifier) + 1
    try:
        session = open_session(verifier, PROMPTS[0], 8)
        with pytest.raises(QueueFull):
            open_session(verifier, PROMPTS[0], 8)
        now[0] = 11.0
        with pytest.raises(NotFound, match="expired"):
            verifier.get(session.id)
        open_session(verifier, PROMPTS[0], 8)  # the expired one no longer counts
    finally:
        table.clock, table.ttl_s, verifier.max_sessions = clock, ttl, cap
