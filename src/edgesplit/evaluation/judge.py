"""Quality labels from a judge model, with MT-Bench's own judge prompts.

The judge is the cloud model. Its answer is begun for it (``Rating: [[``) so it gives the
verdict at once instead of an explanation first: a 1.5B judge on 2 CPU cores cannot afford a
paragraph per label. That is a change to the MT-Bench protocol and the report says so.

A small judge's greedy rating is mostly one value (a 5 for most answers here), so the label
is the judge's *expected* verdict under its own next-token distribution, as G-Eval does: the
probability-weighted rating over the tokens "1".."9" (and "10"). Every tier's answer is rated
on its own, so no tier's answer is the yardstick of another's. When no verdict token is among
the likely ones, a full answer is generated and searched for the verdict.
"""

from __future__ import annotations

import math
import re
from collections.abc import AsyncGenerator, Callable
from dataclasses import dataclass
from typing import Any

from edgesplit.evaluation.datasets import judge_prompts
from edgesplit.generation import Finish, GenerationParams, Prompt, TokenEvent

__all__ = ["Judge", "Verdict"]

_RATING = re.compile(r"\[\[\s*(\d+(?:\.\d+)?)\s*\]\]")
_TOP = 20  # alternatives read at the verdict position

Generate = Callable[[Prompt, GenerationParams], AsyncGenerator[TokenEvent | Finish, None]]


@dataclass(frozen=True)
class Verdict:
    """A rating 1..10 (expected value); None when unparsed."""

    rating: float | None = None
    raw: str = ""
    method: str = "distribution"  # or "generated" (the fallback)


class Judge:
    """Grades answers with ``generate`` (a backend's stream method) and MT-Bench's prompts."""

    def __init__(self, generate: Generate, prompts: dict[str, dict[str, Any]] | None = None) -> None:
        self._generate = generate
        self._prompts = prompts if prompts is not None else judge_prompts()

    async def rate(self, question: str, answer: str, reference: str | None = None) -> Verdict:
        """Expected 1..10 rating (``single-v1``, or ``single-math-v1`` with a reference answer)."""
        name = "single-math-v1" if reference is not None else "single-v1"
        prompt = self._prompt(name, {"question": question, "answer": answer, "ref_answer_1": reference or ""})
        events = await self._complete(prompt, "Rating: [[", 2, _TOP)
        raw = "".join(e.text for e in events)
        if events:
            ten = raw.startswith("10")  # "10" is "1" then "0" for these tokenizers
            weights = {int(p.strip()): math.exp(lp) for p, lp in events[0].top_logprobs if p.strip() in _DIGITS}
            if ten and 1 in weights:
                weights[10] = weights.pop(1)
            if weights:
                total = sum(weights.values())
                return Verdict(rating=sum(r * w for r, w in weights.items()) / total, raw=raw)
        raw = "".join(e.text for e in await self._complete(prompt, "", 256, 0))
        match = _RATING.search(raw)
        rating = min(10.0, max(1.0, float(match.group(1)))) if match else None
        return Verdict(rating=rating, raw=raw, method="generated")

    def _prompt(self, name: str, fields: dict[str, str]) -> Prompt:
        spec = self._prompts[name]
        user = spec["prompt_template"].format(**fields)
        return Prompt(messages=(("system", spec["system_prompt"]), ("user", user)))

    async def _complete(self, prompt: Prompt, begun: str, max_tokens: int, top: int) -> list[TokenEvent]:
        params = GenerationParams(max_tokens=max_tokens, temperature=0.0, top_logprobs=top)
        return [
            event
            async for event in self._generate(Prompt(prompt.messages, continuation=begun), params)
            if isinstance(event, TokenEvent)
        ]


_DIGITS = frozenset("123456789")
