"""The judge's verdict arithmetic, with a scripted generator standing in for the judge model.

(The real judge model is exercised in test_evaluation_harness.py.)
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import AsyncIterator

import pytest

from edgesplit.evaluation.judge import Judge
from edgesplit.generation import Finish, GenerationParams, Prompt, TokenEvent

PROMPTS = {
    name: {"system_prompt": "judge", "prompt_template": "{question} {answer}" if "single" in name else "{answer_a}"}
    for name in ("single-v1", "single-math-v1", "pair-v2")
}


def scripted(first: list[tuple[str, float]], text: str, fallback: str = "") -> object:
    """A generate() whose first token has these alternatives (probabilities), greedy text ``text``."""

    async def generate(prompt: Prompt, params: GenerationParams) -> AsyncIterator[TokenEvent | Finish]:
        if not prompt.continuation:  # the fallback: a free-form answer
            yield TokenEvent(fallback)
        else:
            top = [(piece, math.log(p)) for piece, p in first]
            yield TokenEvent(text[:1], top_logprobs=top)
            yield TokenEvent(text[1:])
        yield Finish("stop", 1, 2)

    return generate


def rate(generate: object) -> float | None:
    return asyncio.run(Judge(generate, PROMPTS).rate("q", "a")).rating  # type: ignore[arg-type]


def test_rating_is_the_expected_value_over_digit_tokens() -> None:
    assert rate(scripted([("8", 0.5), ("6", 0.25), ("x", 0.1), ("4", 0.25)], "8]]")) == pytest.approx(6.5)


def test_a_greedy_ten_counts_the_one_token_as_ten() -> None:
    assert rate(scripted([("1", 0.8), ("9", 0.2)], "10")) == pytest.approx(9.8)
    assert rate(scripted([("1", 0.8), ("9", 0.2)], "1]")) == pytest.approx(2.6)


def test_no_digit_falls_back_to_a_generated_verdict() -> None:
    verdict = asyncio.run(Judge(scripted([("x", 1.0)], "x]", "I think... Rating: [[7]]"), PROMPTS).rate("q", "a"))  # type: ignore[arg-type]
    assert verdict.rating == 7.0 and verdict.method == "generated"
    assert rate(scripted([("x", 1.0)], "x]", "no verdict at all")) is None
