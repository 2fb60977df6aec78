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
from edgesplit.evaluation.results import Answer, AnswerSignals, EvalResults, Label
from edgesplit.evaluation.rules import check_answer
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
    signals: bool = True  # record the cascade's answer-level signals below the top tier
    sample_temperature: float = 0.7  # the self-consistency sample
    sample_seed: int = 7


def _max_tokens(item: EvalItem, config: EvalConfig) -> int:
    is_code = item.set == "humaneval" or (item.rule is not None and item.rule[0] == "code")
    return config.code_max_tokens if is_code else config.max_tokens


def _chat(item: EvalItem) -> Prompt:
    return Prompt(messages=(("user", item.prompt),))


async def generate_answer(
    backend: LocalBackend, tier: str, item: EvalItem, config: EvalConfig, capture: bool
) -> Answer:
    """One greedy answer; with ``capture``, also the prompt's hidden state."""
    params = GenerationParams(max_tokens=_max_tokens(item, config), temperature=0.0)
    states: list[PromptState] = []

    def keep(state: PromptState) -> bool:
        states.append(state)
        return True

    events: list[TokenEvent] = []
    finish: Finish | None = None
    started = time.perf_counter()
    async for event in backend.stream(_chat(item), params, keep if capture else None):
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
        token_logprobs=tuple(e.logprob for e in events if e.logprob is not None),
    )


async def answer_signals(
    item: EvalItem, answer: Answer, backend: LocalBackend, upper: LocalBackend, config: EvalConfig
) -> AnswerSignals:
    """What a cascade check at this tier can read: the answer's token log-probabilities (from its
    generation, or re-read in one prefill for a stored answer), a sampled second answer, and the
    answer's token log-probabilities under the next tier's model."""
    logprobs = list(answer.token_logprobs) or await backend.score(_chat(item), answer.text)
    params = GenerationParams(
        max_tokens=_max_tokens(item, config), temperature=config.sample_temperature, seed=config.sample_seed
    )
    started = time.perf_counter()
    sample = "".join([e.text async for e in backend.stream(_chat(item), params) if isinstance(e, TokenEvent)])
    sample_ms = (time.perf_counter() - started) * 1000
    started = time.perf_counter()
    upper_logprobs = await upper.score(_chat(item), answer.text)
    next_ms = (time.perf_counter() - started) * 1000
    return AnswerSignals(
        np.asarray(logprobs, np.float32), sample, sample_ms, upper.name, np.asarray(upper_logprobs, np.float32), next_ms
    )


async def label_answer(item: EvalItem, answer: Answer, judge: Judge, config: EvalConfig) -> Label:
    """Quality of one tier's answer, 0..1, by the item's label kind; every tier is labelled the same way.

    No label favours a tier by construction: tests run each answer; the judge rates each answer
    on its own (against the reference answer where the set has one), never one tier's answer as
    the yardstick of another's."""
    started = time.perf_counter()
    if item.rule is not None:
        check, expected, tolerance = item.rule
        passed, detail = check_answer(check, expected, answer.text, tolerance, config.exec_timeout_s)
        return Label(float(passed), "rule", detail, (time.perf_counter() - started) * 1000)
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
            below_top = position < len(tiers)
            if config.signals and below_top and results.signals(item.key, tier) is None:
                upper = tiers[position][1]
                results.put_signals(item.key, tier, await answer_signals(item, answer, backend, upper, config))
        if progress is not None:
            progress(item)
