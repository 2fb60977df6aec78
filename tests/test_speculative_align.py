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
    fast_link = GammaController(rtt_ms=1, draft_ms=8, alpha=0.3, rate_slack=1.0)
    slow_link = GammaController(rtt_ms=200, draft_ms=8, alpha=0.3, rate_slack=1.0)
    assert slow_link.choose() > fast_link.choose()
    good = GammaController(rtt_ms=50, alpha=0.9, rate_slack=1.0)
    bad = GammaController(rtt_ms=50, alpha=0.1, rate_slack=1.0)
    assert good.choose() > bad.choose()
    controller = GammaController(alpha=0.6)
    for _ in range(10):
        controller.update(drafted=6, accepted=0, draft_ms=48, rtt_ms=50, verify_ms=30, evaluated=1)
    assert controller.alpha < 0.2 and controller.rtt_ms == pytest.approx(50, rel=0.1)
    for _ in range(20):
        controller.update(drafted=6, accepted=6, draft_ms=48, rtt_ms=50, verify_ms=210, evaluated=7)
    assert controller.alpha > 0.9 and controller.cost.ms(7, 7) == pytest.approx(210, rel=0.1)


def test_the_verify_cost_is_fitted_per_pass_and_per_token() -> None:
    controller = GammaController(batched=True)
    for _ in range(30):  # Qwen2.5-Coder-1.5B on 2 cores: 81 ms for one token, 215 ms for a block of five
        controller.update(drafted=4, accepted=4, draft_ms=40, rtt_ms=50, verify_ms=215, evaluated=5, passes=1)
        controller.update(drafted=0, accepted=0, draft_ms=0, rtt_ms=50, verify_ms=81, evaluated=1, passes=1)
    cost = controller.cost
    assert cost.pass_ms == pytest.approx(47.5, abs=3) and cost.token_ms == pytest.approx(33.5, abs=1)
    controller.update(drafted=0, accepted=0, draft_ms=0, rtt_ms=50, verify_ms=900, evaluated=300, passes=1)
    assert controller.cost.token_ms == pytest.approx(33.5, abs=1)  # a prompt's prefill is left out


def test_with_a_slow_drafter_the_cloud_objective_still_drafts_blocks() -> None:
    """A drafter about as slow per token as a cloud pass makes the fastest draft length short; within
    10% of that rate, a longer block costs the cloud much less per answer token."""

    def controller(slack: float) -> GammaController:
        made = GammaController(batched=True, alpha=0.95, draft_ms=90, rtt_ms=50, rate_slack=slack)
        made.cost.pass_ms, made.cost.token_ms = 47.5, 33.5
        return made

    fastest, frugal = controller(1.0), controller(0.9)
    assert frugal.choose() > fastest.choose()
    assert frugal.cloud_ms_per_token(frugal.choose()) < 0.8 * fastest.cloud_ms_per_token(fastest.choose())
    assert frugal.rate(frugal.choose()) >= 0.9 * fastest.rate(fastest.choose())
