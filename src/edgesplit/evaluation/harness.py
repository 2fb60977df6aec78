"""Run eval sets through every tier's model (device, local, cloud) and label each answer.

Every tier answers every item greedily, from an empty cache, exactly as the nodes would. The
runs below the top tier also record what a router can see before it generates: the prompt's last hidden
state (read while the prompt is evaluated) and the prompt length; and what the cascade sees
after: the answer's mean token log-probability, whole and over the probe tokens.

Each answer and label is stored as soon as it exists; a rerun skips what is stored.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from edgesplit.evaluation.datasets import EvalItem
from edgesplit.evaluation.execution import humaneval_program, run_program
from edgesplit.evaluation.judge import Judge
from edgesplit.evaluation.results import Answer, EvalResults, Label
from edgesplit.generation import Finish, GenerationParams, Prompt, PromptState, TokenEvent, mean_logprob
from edgesplit.llama.backend import LocalBackend

__all__ = ["EvalConfig", "label_answer", "run_items"]

Progress = Callable[[EvalItem], None]


@dataclass(frozen=True)
class EvalConfig:
    max_tokens: int = 192
    code_max_tokens: int = 320  # HumanEval answers are whole functions
    probe_tokens: int = 8
    exec_timeout_s: float = 10.0


async def generate_answer(
    backend: LocalBackend, tier: str, item: EvalItem, config: EvalConfig, capture: bool
) -> Answer:
    """One greedy answer; with ``capture``, also the prompt's hidden state."""
    max_tokens = config.code_max_tokens if item.set == "humaneval" else config.max_tokens
    params = GenerationParams(max_tokens=max_tokens, temperature=0.0)
    states: list[PromptState] = []

    def keep(state: PromptState) -> bool:
        states.append(state)
        return True

    events: list[TokenEvent] = []
    finish: Finish | None = None
    started = time.perf_counter()
    async for event in backend.stream(Prompt(messages=(("user", item.prompt),)), params, keep if capture else None):
        if isinstance(event, Finish):
            finish = event
        else:
            events.append(event)
    elapsed = (time.perf_counter() - started) * 1000
    return Answer(
        tier=tier,
        model=backend.name,
        text="".join(e.text for e in events),
        prompt_tokens=finish.prompt_tokens if finish else 0,
        completion_tokens=finish.completion_tokens if finish else len(events),
        mean_logprob=mean_logprob(events),
        probe_logprob=mean_logprob(events[: config.probe_tokens]),
        ms=elapsed,
        hidden=np.asarray(states[0].hidden, dtype=np.float32) if states else None,
    )


async def label_answer(item: EvalItem, answer: Answer, judge: Judge, config: EvalConfig) -> Label:
    """Quality of one tier's answer, 0..1, by the item's label kind; every tier is labelled the same way.

    No label favours a tier by construction: tests run each answer; the judge rates each answer
    on its own (against the reference answer where the set has one), never one tier's answer as
    the yardstick of another's."""
    started = time.perf_counter()
    if item.label_kind == "tests":
        result = run_program(humaneval_program(item.test, answer.text), config.exec_timeout_s)
        return Label(float(result.passed), "tests", result.detail, (time.perf_counter() - started) * 1000)
    verdict = await judge.rate(item.prompt, answer.text, item.reference)
    rating = verdict.rating if verdict.rating is not None else 1.0
    detail = f"rating {verdict.rating:.2f} ({verdict.method})" if verdict.rating is not None else "unparsed"
    method = "judge-reference" if item.reference is not None else "judge"
    return Label(rating / 10, method, detail, (time.perf_counter() - started) * 1000)


async def run_items(
    items: Sequence[EvalItem],
    results: EvalResults,
    tiers: Sequence[tuple[str, LocalBackend]],
    config: EvalConfig,
    progress: Progress | None = None,
) -> None:
    """Answer and label every item at every tier not yet stored (resumable).

    ``tiers`` go from the lowest to the top; the top tier's model is the judge, and every tier
    below it records what a router there can see (the prompt's hidden state)."""
    results.add_items(items)
    judge = Judge(tiers[-1][1].stream)
    for item in items:
        for position, (tier, backend) in enumerate(tiers, 1):
            answer = results.answer(item.key, tier)
            if answer is None:
                answer = await generate_answer(backend, tier, item, config, capture=position < len(tiers))
                results.put_answer(item.key, answer)
            if results.label(item.key, tier) is None:
                results.put_label(item.key, tier, await label_answer(item, answer, judge, config))
        if progress is not None:
            progress(item)
