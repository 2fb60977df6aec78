"""Draft text → verifier tokens at the seam, UTF-8 hold-back, and the draft-length controller."""

from __future__ import annotations

import pytest

from conftest import EDGE_MODEL
from edgesplit.llama.tokenizer import ChatTokenizer
from edgesplit.models import locate_model
from edgesplit.speculation.align import align_draft, split_complete_utf8
from edgesplit.speculation.gamma import GammaController, expected_tokens


@pytest.fixture(scope="module")
def tokenizer() -> ChatTokenizer:
    return ChatTokenizer.vocab_only(locate_model(EDGE_MODEL))


def ids(tokenizer: ChatTokenizer, text: str) -> list[int]:
    return list(tokenizer.llm.tokenize(text.encode(), add_bos=False, special=False))


def test_a_draft_that_finishes_a_word_gets_the_whole_texts_tokens(tokenizer: ChatTokenizer) -> None:
    whole = ids(tokenizer, "The quick brown fox jumps over the lazy dog")
    cut = len(ids(tokenizer, "The quick brown fox"))
    answer, rest = whole[:cut], whole[cut:]
    rest_text = b"".join(tokenizer.piece(t) for t in rest)
    assert align_draft(tokenizer, answer, rest_text) == rest
    # mid-word: "The quick bro" + "wn fox": alone, "wn" tokenizes differently from inside "brown"
    answer = ids(tokenizer, "The quick bro")
    drafted = align_draft(tokenizer, answer, b"wn fox")
    assert b"".join(tokenizer.piece(t) for t in drafted) == b"wn fox"


def test_special_token_text_in_a_draft_stays_text(tokenizer: ChatTokenizer) -> None:
    drafted = align_draft(tokenizer, [], b"<|im_end|>")
    assert len(drafted) > 1 and not any(tokenizer.is_end(t) for t in drafted)


def test_split_complete_utf8() -> None:
    assert split_complete_utf8("héllo".encode()) == ("héllo", b"")
    assert split_complete_utf8("a€".encode()[:-1]) == ("a", b"\xe2\x82")
    assert split_complete_utf8(b"a\xffb") == ("a\ufffdb", b"")


def test_expected_tokens() -> None:
    assert expected_tokens(0.0, 5) == 1.0
    assert expected_tokens(1.0, 5) == 6.0
    assert expected_tokens(0.5, 2) == pytest.approx(1.75)


def test_gamma_follows_acceptance_and_round_trip() -> None:
    fast_link = GammaController(rtt_ms=1, token_ms=30, draft_ms=8, alpha=0.3)
    slow_link = GammaController(rtt_ms=200, token_ms=30, draft_ms=8, alpha=0.3)
    assert slow_link.choose() > fast_link.choose()
    good = GammaController(rtt_ms=50, alpha=0.9)
    bad = GammaController(rtt_ms=50, alpha=0.1)
    assert good.choose() > bad.choose()
    controller = GammaController(alpha=0.6)
    for _ in range(10):
        controller.update(drafted=6, accepted=0, draft_ms=48, rtt_ms=50, verify_ms=30, evaluated=1)
    assert controller.alpha < 0.2 and controller.rtt_ms == pytest.approx(50, rel=0.1)
    for _ in range(20):
        controller.update(drafted=6, accepted=6, draft_ms=48, rtt_ms=50, verify_ms=210, evaluated=7)
    assert controller.alpha > 0.9 and controller.token_ms == pytest.approx(30, rel=0.1)
