"""Checking the verifier's contract: where a verify session's answer parts from plain greedy decoding.

A verify session fed the plain greedy answer itself as drafts (a perfect drafter) must give
that answer back. In ``exact`` mode it does, token for token. In ``batched`` mode a block pass
may pick the runner-up where plain decoding's top two logits are nearly tied; the contract is
that every such divergence has a plain-decoding margin below ``TIE_TOLERANCE``. Used by
``tests/test_verifier_ties.py`` and ``bench/verify_ties.py``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from edgesplit.cloud.verifier import Verifier
from edgesplit.generation import Prompt
from edgesplit.llama.margins import GreedyStep, greedy_with_margins
from edgesplit.schemas import VerifyMode

__all__ = ["Divergence", "divergence"]


@dataclass(frozen=True)
class Divergence:
    reference: list[GreedyStep]  # plain greedy decoding, with margins
    verified: int  # tokens the session produced that equal the reference, before any divergence
    passes: int  # the session's forward passes
    at: int | None  # first position where the session's token differs; None: identical

    @property
    def margin(self) -> float | None:
        """Plain decoding's top-2 margin where the session diverged."""
        return self.reference[self.at].margin if self.at is not None else None


def divergence(
    verifier: Verifier, reference_llm: Any, text: str, max_tokens: int, gamma: int, mode: VerifyMode
) -> Divergence:
    """Run one prompt both ways. ``reference_llm``: a plain ``Llama`` of the verifier's model."""
    prompt = Prompt(messages=(("user", text),))
    steps = greedy_with_margins(reference_llm, verifier.tokenizer.encode(prompt), max_tokens, verifier.tokenizer.is_end)
    reference = [s.token for s in steps]
    session = verifier.open("default", prompt, max_tokens, max_tokens, mode)
    got: list[int] = []
    passes = 0
    try:
        while not session.finished and len(got) < len(reference):
            draft = reference[len(got) : len(got) + gamma]
            result = verifier.verify(session, "", "", draft_ids=draft, commit_ids=[])
            got.extend(result.ids)
            passes += result.passes
            if got != reference[: len(got)]:
                break
    finally:
        verifier.close(session.id)
    at = next((i for i, (a, b) in enumerate(zip(got, reference, strict=False)) if a != b), None)
    return Divergence(steps, len(got) if at is None else at, passes, at)
