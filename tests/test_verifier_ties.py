"""cloud/ties.py: the verifier's contract against plain greedy decoding, on a fixed prompt set.

``exact`` gives plain greedy decoding back token for token; ``batched`` may part from it only
where plain decoding's top two logits are closer than ``TIE_TOLERANCE`` (see bench/verify_ties.py
for the measurement behind that value). The drafts are the plain answer itself, so every token
is checked inside a block: the hardest case for batched numerics.
"""

from __future__ import annotations

from typing import Any

import pytest

from edgesplit.cloud.ties import divergence
from edgesplit.cloud.verifier import TIE_TOLERANCE
from edgesplit.server import NodeServer

PROMPTS = [
    "Name three primary colors.",
    "Write a Python function that adds two numbers.",
    "What is a router?",
    "How do I reset my password if I forgot it?",
    "Write a bash command that counts the lines in every .txt file in a folder.",
    "Explain what a hash map is in two sentences.",
]


@pytest.mark.parametrize("prompt", PROMPTS[:3])
def test_exact_verification_is_plain_greedy_decoding(cloud: NodeServer, reference_llm: Any, prompt: str) -> None:
    found = divergence(cloud.node.verifier, reference_llm, prompt, 48, 4, "exact")  # type: ignore[attr-defined]
    assert found.at is None and found.verified >= len(found.reference) - 1  # the end token is not an answer token


def test_batched_verification_parts_from_greedy_only_at_near_ties(cloud: NodeServer, reference_llm: Any) -> None:
    verifier = cloud.node.verifier  # type: ignore[attr-defined]
    found = [divergence(verifier, reference_llm, prompt, 48, 4, "batched") for prompt in PROMPTS]
    margins = [f.margin for f in found if f.margin is not None]
    assert all(m < TIE_TOLERANCE for m in margins), margins
    assert sum(f.verified for f in found) > 2 * sum(f.passes for f in found)  # blocks, not one token per pass
