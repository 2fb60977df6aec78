"""Quality labels from a judge model, with MT-Bench's own judge prompts.

The judge is the cloud model. Its answer is begun for it (``Rating: [[`` for a single grade,
``[[`` for a pairwise verdict) so it gives the verdict at once instead of an explanation
first: a 1.5B judge on 2 CPU cores cannot afford a paragraph per label. That is a change to
the MT-Bench protocol and the report says so. A reply that cannot be parsed falls back to
a full answer searched for the verdict.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

from edgesplit.backends.base import Finish, GenerationParams, Prompt, TokenEvent
from edgesplit.evaluation.datasets import judge_prompts

__all__ = ["Judge", "Verdict"]

_RATING = re.compile(r"\[\[\s*(\d+(?:\.\d+)?)\s*\]\]|^\s*(\d+(?:\.\d+)?)")
_PAIR = re.compile(r"\[\[\s*([ABC])\s*\]\]|^\s*([ABC])\b")

Generate = Callable[[Prompt, GenerationParams], AsyncIterator[TokenEvent | Finish]]


@dataclass(frozen=True)
class Verdict:
    value: float | str | None  # a rating 1..10, "A"/"B"/"C" (tie), or None when unparsed
    raw: str


class Judge:
    """Grades answers with ``generate`` (a backend's stream method) and MT-Bench's prompts."""

    def __init__(self, generate: Generate, prompts: dict[str, dict[str, Any]] | None = None) -> None:
        self._generate = generate
        self._prompts = prompts if prompts is not None else judge_prompts()

    async def rate(self, question: str, answer: str, reference: str | None = None) -> Verdict:
        """A 1..10 rating (``single-v1``, or ``single-math-v1`` with a reference answer)."""
        name = "single-math-v1" if reference is not None else "single-v1"
        fields = {"question": question, "answer": answer, "ref_answer_1": reference or ""}
        prompt = self._prompt(name, fields)
        raw = await self._complete(prompt, "Rating: [[", 4)
        value = _parse(_RATING, "[[" + raw)
        if value is None:  # the begun answer did not work: let the judge write its own
            raw = await self._complete(prompt, "", 256)
            value = _parse(_RATING, raw)
        rating = min(10.0, max(1.0, float(value))) if value is not None else None
        return Verdict(rating, raw)

    async def compare(self, question: str, answer_a: str, answer_b: str) -> Verdict:
        """``pair-v2``: "A", "B" or "C" (tie)."""
        prompt = self._prompt("pair-v2", {"question": question, "answer_a": answer_a, "answer_b": answer_b})
        raw = await self._complete(prompt, "[[", 3)
        value = _parse(_PAIR, "[[" + raw)
        if value is None:
            raw = await self._complete(prompt, "", 256)
            value = _parse(_PAIR, raw)
        return Verdict(value, raw)

    def _prompt(self, name: str, fields: dict[str, str]) -> Prompt:
        spec = self._prompts[name]
        user = spec["prompt_template"].format(**fields)
        return Prompt(messages=(("system", spec["system_prompt"]), ("user", user)))

    async def _complete(self, prompt: Prompt, begun: str, max_tokens: int) -> str:
        params = GenerationParams(max_tokens=max_tokens, temperature=0.0)
        parts = []
        async for event in self._generate(Prompt(prompt.messages, continuation=begun), params):
            if isinstance(event, TokenEvent):
                parts.append(event.text)
        return "".join(parts)


def _parse(pattern: re.Pattern[str], text: str) -> str | None:
    match = pattern.search(text)
    if match is None:
        return None
    return next(group for group in match.groups() if group is not None)
