"""The cascade on a tier: answer here, then a check keeps the answer or sends the request up.

Two checks judge an answer:

- ``AnswerCheckJudge``: the hop's fitted answer check (``routing/answer_check.py``), P(this
  tier's answer is acceptable) from its token log-probabilities, what the prompt asked for and
  the prompt's cues; packaged per model and the default when one ships for this node's model;
- ``MeanLogprobJudge``: the foundation's rule, the answer's mean token log-probability against
  ``cascade_threshold`` (used when no check is configured or packaged).

A streamed answer needs an answer before its check. ``cascade_stream = "hold"`` (the default)
holds up to ``cascade_hold_tokens`` tokens: a short answer, most of the edge workload, is checked
whole and then sent, so the client sees the tier's answer or the upstream's, never a mix, and the
check reads what it was fitted on. A longer answer is checked on its first ``cascade_hold_tokens``
tokens. ``"prefix"`` checks the first ``cascade_probe_tokens`` instead: a faster first token,
a weaker check.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from edgesplit.edge.streams import drain, replay, resume
from edgesplit.errors import ConfigError, UpstreamError
from edgesplit.generation import Backend, Finish, GenerationParams, Prompt, TokenEvent, mean_logprob
from edgesplit.llama.backend import LocalBackend
from edgesplit.request_flow import CloudPolicy, Generation, not_falling_back
from edgesplit.routing.answer_check import AnswerCheck, load_check
from edgesplit.routing.answer_signals import AnswerView
from edgesplit.routing.artifact import packaged_file
from edgesplit.routing.router import CascadePolicy, CascadeVerdict
from edgesplit.schemas import JobRecord, RouteInfo

if TYPE_CHECKING:
    from edgesplit.config import Settings

__all__ = [
    "AnswerCheckJudge",
    "CascadeHost",
    "Judge",
    "MeanLogprobJudge",
    "answer_check_path",
    "cascade_judge",
    "packaged_check",
]

log = logging.getLogger("edgesplit.edge")


class CascadeHost(Protocol):
    """What a cascade needs from the dispatcher: this tier's model, the upstream call, the fallback note."""

    local: Backend

    async def remote(
        self, prompt: Prompt, params: GenerationParams, info: RouteInfo, policy: CloudPolicy
    ) -> Generation: ...

    def note_fallback(self, info: RouteInfo, exc: UpstreamError, reason: str) -> None: ...


class Judge(Protocol):
    @property
    def threshold(self) -> float: ...

    @property
    def probe_tokens(self) -> int: ...  # tokens a stream holds before its check

    async def judge(self, prompt: Prompt, prompt_tokens: int, tokens: list[TokenEvent]) -> CascadeVerdict: ...


@dataclass(frozen=True)
class MeanLogprobJudge:
    policy: CascadePolicy

    @property
    def threshold(self) -> float:
        return self.policy.threshold

    @property
    def probe_tokens(self) -> int:
        return self.policy.probe_tokens

    async def judge(self, prompt: Prompt, prompt_tokens: int, tokens: list[TokenEvent]) -> CascadeVerdict:
        return self.policy.judge(mean_logprob(tokens))


@dataclass(frozen=True)
class AnswerCheckJudge:
    check: AnswerCheck
    probe_tokens: int
    run_code: bool = True  # run a code answer's own examples (a limited subprocess; not network-isolated)

    @property
    def threshold(self) -> float:
        return self.check.threshold

    async def judge(self, prompt: Prompt, prompt_tokens: int, tokens: list[TokenEvent]) -> CascadeVerdict:
        text = prompt.text if prompt.text is not None else prompt.messages[-1][1]
        answer = "".join(e.text for e in tokens)
        if not answer.strip():
            return CascadeVerdict(True, "the answer is empty", None)
        view = AnswerView(text, prompt_tokens, answer, [e.logprob for e in tokens if e.logprob is not None])
        p = await asyncio.to_thread(self.check.probability, view, self.run_code)  # code examples run in a subprocess
        where = f"answer check: P(acceptable) {p:.3f}"
        if p < self.check.threshold:
            return CascadeVerdict(True, f"{where} < {self.check.threshold:.3f}", p)
        return CascadeVerdict(False, f"{where} >= {self.check.threshold:.3f}", p)


def packaged_check(model: str) -> Path | None:
    """The answer check shipped with edgesplit for ``model`` (``edgesplit calibrate-cascade``), if any."""
    return packaged_file("checks", model)


def answer_check_path(settings: Settings) -> Path | None:
    if settings.answer_check is not None or not settings.answer_check_packaged:
        return settings.answer_check
    return packaged_check(settings.served_model)


def cascade_judge(settings: Settings) -> Judge:
    """The node's check: its configured or packaged answer check, else the mean log-probability rule.

    A configured check that cannot be used is a ConfigError at start; a check that needs signals
    a tier cannot read alone (a second sample, the next tier's score) is refused the same way."""
    mean = MeanLogprobJudge(CascadePolicy(settings.cascade_threshold, settings.cascade_probe_tokens))
    path = answer_check_path(settings)
    if path is None:
        return mean
    check = load_check(path)
    if check.needs_sample or check.needs_upstream:
        raise ConfigError(f"answer check {path} reads {', '.join(check.groups)}: a node serves tokens, tasks and cues")
    if check.tier_model != settings.served_model:
        log.warning("answer check %s was fitted on %s, this node serves %s", path, check.tier_model,
                    settings.served_model)  # fmt: skip
    hold = settings.cascade_hold_tokens if settings.cascade_stream == "hold" else settings.cascade_probe_tokens
    return AnswerCheckJudge(check, hold, settings.cascade_run_code)


def _prompt_tokens(d: CascadeHost, prompt: Prompt, finish: Finish | None) -> int:
    if finish is not None:
        return finish.prompt_tokens
    return len(d.local.tokenize(prompt)) if isinstance(d.local, LocalBackend) else 0


def _info(verdict: CascadeVerdict, judge: Judge, note: str = "") -> RouteInfo:
    return RouteInfo(route="edge", rule="cascade-kept", reason=verdict.reason + note, confidence=verdict.confidence,
                     threshold=judge.threshold)  # fmt: skip


async def cascade_whole(d: CascadeHost, prompt: Prompt, params: GenerationParams, policy: CloudPolicy,
                        judge: Judge) -> Generation | JobRecord:  # fmt: skip
    """Non-streamed auto: check the whole answer, then keep it or ask the upstream."""
    tokens, finish = await drain(d.local.stream(prompt, params))
    verdict = await judge.judge(prompt, _prompt_tokens(d, prompt, finish), tokens)
    edge_info = _info(verdict, judge)
    if not verdict.escalate:
        return Generation(edge_info, replay(tokens, finish))
    cloud_info = edge_info.model_copy(update={"route": "cloud", "rule": "cascade-escalated"})
    try:
        generation = await d.remote(prompt, params, cloud_info, policy)
        cloud_tokens, cloud_finish = await drain(generation.events)
        return Generation(generation.route, replay(cloud_tokens, cloud_finish))
    except UpstreamError as exc:
        if (job := await not_falling_back(exc, policy)) is not None:
            return job
        d.note_fallback(edge_info, exc, f"{verdict.reason}; upstream unavailable, kept this tier's answer")
        return Generation(edge_info, replay(tokens, finish))


async def cascade_streaming(d: CascadeHost, prompt: Prompt, params: GenerationParams, policy: CloudPolicy,
                            judge: Judge) -> Generation | JobRecord:  # fmt: skip
    """Streamed auto: hold the first ``judge.probe_tokens`` tokens (the whole of a short answer),
    check them, then commit to one tier. The local generation keeps running while the upstream
    is asked, so a failing upstream costs no extra time."""
    local = d.local.stream(prompt, params)
    probe: list[TokenEvent | Finish] = []
    async for event in local:
        probe.append(event)
        if isinstance(event, Finish) or len(probe) >= judge.probe_tokens:
            break
    tokens = [e for e in probe if isinstance(e, TokenEvent)]
    finish = next((e for e in probe if isinstance(e, Finish)), None)
    verdict = await judge.judge(prompt, _prompt_tokens(d, prompt, finish), tokens)
    whole = "whole answer" if finish is not None else f"first {len(tokens)} tokens"
    info = _info(verdict, judge, f" ({whole})")
    if verdict.escalate:
        cloud_info = info.model_copy(update={"route": "cloud", "rule": "cascade-escalated"})
        try:
            generation = await d.remote(prompt, params, cloud_info, policy)
        except UpstreamError as exc:
            try:
                job = await not_falling_back(exc, policy)
            except UpstreamError:
                await local.aclose()
                raise
            if job is not None:
                await local.aclose()
                return job
            d.note_fallback(info, exc, f"{info.reason}; upstream unavailable, stayed on this tier")
        else:
            await local.aclose()
            return generation
    return Generation(info, resume(probe, local))
