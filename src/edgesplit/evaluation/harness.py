"""Run eval sets through the edge and the cloud model and label each answer.

Both tiers answer every item greedily, from an empty cache, exactly as the nodes would. The
edge run also records what a router can see before it generates: the prompt's last hidden
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

__all__ = ["EvalConfig", "label_item", "run_items"]

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


async def label_item(
    item: EvalItem, edge: Answer, cloud: Answer, judge: Judge, config: EvalConfig
) -> tuple[Label, Label]:
    """Quality of the edge and the cloud answer, 0..1, by the item's label kind."""
    started = time.perf_counter()
    if item.label_kind == "tests":
        results = [run_program(humaneval_program(item.test, a.text), config.exec_timeout_s) for a in (edge, cloud)]
        ms = (time.perf_counter() - started) * 1000 / 2
        return tuple(Label(float(r.passed), "tests", r.detail, ms) for r in results)  # type: ignore[return-value]
    if item.label_kind == "judge-pairwise":
        # edge against cloud in both orders (the judge's position bias cancels); the cloud
        # answer is the reference: quality 1. The edge scores P(it wins or ties) per order.
        first = await judge.compare(item.prompt, edge.text, cloud.text)
        second = await judge.compare(item.prompt, cloud.text, edge.text)
        ms = (time.perf_counter() - started) * 1000
        if first.pair is None or second.pair is None:
            detail = f"unparsed: {first.raw[:40]!r} / {second.raw[:40]!r}"
            return Label(0.5, "judge-pairwise", detail, ms), Label(1.0, "reference", "the reference", 0.0)
        points = [first.pair["A"] + first.pair["C"], second.pair["B"] + second.pair["C"]]
        detail = f"P(edge >= cloud): edge first {points[0]:.2f}, cloud first {points[1]:.2f}"
        return Label(sum(points) / 2, "judge-pairwise", detail, ms), Label(1.0, "reference", "the reference", 0.0)
    labels = []
    for answer in (edge, cloud):
        verdict = await judge.rate(item.prompt, answer.text, item.reference)
        rating = verdict.rating if verdict.rating is not None else 1.0
        detail = f"rating {verdict.rating:.2f} ({verdict.method})" if verdict.rating is not None else "unparsed"
        method = "judge-reference" if item.reference is not None else "judge"
        labels.append(Label(rating / 10, method, detail, (time.perf_counter() - started) * 1000))
        started = time.perf_counter()
    return labels[0], labels[1]


async def run_items(
    items: Sequence[EvalItem],
    results: EvalResults,
    edge: LocalBackend,
    cloud: LocalBackend,
    config: EvalConfig,
    progress: Progress | None = None,
) -> None:
    """Answer and label every item not yet stored (resumable)."""
    results.add_items(items)
    judge = Judge(cloud.stream)
    for item in items:
        edge_answer = results.answer(item.key, "edge")
        if edge_answer is None:
            edge_answer = await generate_answer(edge, "edge", item, config, capture=True)
            results.put_answer(item.key, edge_answer)
        cloud_answer = results.answer(item.key, "cloud")
        if cloud_answer is None:
            cloud_answer = await generate_answer(cloud, "cloud", item, config, capture=False)
            results.put_answer(item.key, cloud_answer)
        if results.label(item.key, "edge") is None or results.label(item.key, "cloud") is None:
            edge_label, cloud_label = await label_item(item, edge_answer, cloud_answer, judge, config)
            results.put_label(item.key, "edge", edge_label)
            results.put_label(item.key, "cloud", cloud_label)
        if progress is not None:
            progress(item)
