"""Dispatch on the edge: which tier answers a request, and what happens when the upstream fails.

``Dispatcher.generate`` takes a resolved route: ``edge`` (the local model), ``cloud`` (the
upstream, full generation), ``split`` and ``speculative`` (the edge halves of those, with the
upstream doing the rest), or ``auto``: the cascade (``edge/cascade.py``: answer here, then the
hop's answer check keeps the answer or sends the request up) when an answer check is configured
or packaged, else the learned prompt router if one is loaded, else the cascade with the mean
log-probability rule. Every upstream path goes through
``remote``, which sends only what the privacy plan allows, feeds the circuit breaker with
upstream outcomes only, and restores placeholders in the answer. When the upstream fails the
request's policy decides: answer on the edge and flag it (``fallback``), store it in the outbox
(``defer``), or fail (``error``); a stream that breaks midway is finished by the edge model.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Sequence
from dataclasses import replace
from typing import TYPE_CHECKING

from edgesplit.config import Settings
from edgesplit.edge.cascade import AnswerCheckJudge, cascade_judge, cascade_streaming, cascade_whole
from edgesplit.edge.failover import CLIENT_ERRORS
from edgesplit.edge.speculative import VERIFY_REASONS
from edgesplit.edge.streams import learned_info, restoring, score_while_evaluating, unscored
from edgesplit.errors import InvalidRequest, LinkDown, ModelError, UpstreamError
from edgesplit.generation import Backend, Finish, GenerationParams, Prompt, TokenEvent
from edgesplit.llama.backend import LocalBackend
from edgesplit.metrics import NodeMetrics
from edgesplit.models import locate_model
from edgesplit.privacy.restore import StreamRestorer
from edgesplit.request_flow import FALLBACK, CloudPolicy, Events, Generation, not_falling_back, primed
from edgesplit.routing.embedding import TokenEmbeddings
from edgesplit.routing.learned import LearnedDecision, LearnedRouter, RouterHolder
from edgesplit.routing.scorer import PromptView
from edgesplit.schemas import JobRecord, RouteInfo, RouteName
from edgesplit.transport.link import LinkMonitor

if TYPE_CHECKING:
    from edgesplit.preprocess.base import Preprocessor
    from edgesplit.privacy.redactor import PrivacyPlan

__all__ = ["Dispatcher"]

log = logging.getLogger("edgesplit.edge")


class Dispatcher:
    """The edge's route strategies over its local model and its upstream backends."""

    def __init__(
        self,
        settings: Settings,
        local: Backend,
        upstream: Backend | None,
        link: LinkMonitor,
        metrics: NodeMetrics,
        router: RouterHolder,
        split: Backend | None = None,
        speculative: Backend | None = None,
        escalation: Sequence[Preprocessor] = (),
    ) -> None:
        self.settings = settings
        self.escalation = tuple(escalation)  # pre-processors run on what leaves for the upstream (compress)
        self.local = local
        self.upstream = upstream  # full generation (RemoteBackend), None without an upstream
        self.split = split  # the SplitBackend, when a split model is configured
        self.speculative = speculative  # the SpeculativeBackend, when the upstream verifies drafts
        self.link = link
        self.metrics = metrics
        self.router = router
        self.judge = cascade_judge(settings)  # the answer check (or the mean log-prob rule) of auto
        self._embeddings: TokenEmbeddings | None = None

    async def generate(
        self,
        prompt: Prompt,
        params: GenerationParams,
        route: RouteName,
        stream: bool,
        policy: CloudPolicy = FALLBACK,
    ) -> Generation | JobRecord:
        if policy.privacy is not None and not policy.privacy.may_leave:
            reason = f"privacy {policy.privacy.action} ({policy.privacy.rule}): the data stays on this tier"
            info = RouteInfo(route="edge", rule="local-only", reason=reason, requested=route)
            return await self._local(prompt, params, info)
        if route == "split":
            return await self._split(prompt, params, policy)
        if route == "speculative":
            return await self._speculative(prompt, params, policy)
        if route == "edge":
            return await self._local(
                prompt,
                params,
                RouteInfo(route="edge", rule="forced", reason="client asked for the edge", requested=route),
            )
        if self.upstream is None:
            info = RouteInfo(route="edge", rule="no-upstream", reason="no upstream configured", requested=route)
            return await self._local(prompt, params, info)
        if route == "cloud":
            return await self._forced_cloud(prompt, params, policy)
        if not isinstance(self.judge, AnswerCheckJudge) and (router := self.router.current) is not None:
            return await self._learned(prompt, params, policy, router)
        if stream:
            return await cascade_streaming(self, prompt, params, policy, self.judge)
        return await cascade_whole(self, prompt, params, policy, self.judge)

    async def _local(self, prompt: Prompt, params: GenerationParams, info: RouteInfo) -> Generation:
        return Generation(info, await primed(self.local.stream(prompt, params)))

    async def _forced_cloud(
        self, prompt: Prompt, params: GenerationParams, policy: CloudPolicy
    ) -> Generation | JobRecord:
        info = RouteInfo(route="cloud", rule="forced", reason="client asked for the cloud", requested="cloud")
        return await self._upstream_else_edge(prompt, params, info, policy, "cloud unavailable, answered on the edge")

    async def _upstream_else_edge(
        self,
        prompt: Prompt,
        params: GenerationParams,
        info: RouteInfo,
        policy: CloudPolicy,
        fallback_reason: str,
        backend: Backend | None = None,
        sends_text: bool = True,
        raise_client_errors: bool = True,
    ) -> Generation | JobRecord:
        """Serve through the upstream; when it fails, apply the request's policy (edge answer, job or error)."""
        try:
            return await self.remote(prompt, params, info, policy, backend, sends_text)
        except UpstreamError as exc:
            if raise_client_errors and exc.status_code in CLIENT_ERRORS:
                raise
            if (job := await not_falling_back(exc, policy)) is not None:
                return job
            self.note_fallback(info, exc, fallback_reason)
            return await self._local(prompt, params, info)

    async def _split(self, prompt: Prompt, params: GenerationParams, policy: CloudPolicy) -> Generation | JobRecord:
        if self.split is None:
            raise InvalidRequest("split inference is not configured on this edge (split_model)", param="route")
        if policy.privacy is not None and not policy.privacy.may_leave_raw:
            reason = (
                f"privacy {policy.privacy.action} ({policy.privacy.rule}): hidden states are raw data and "
                "cannot be redacted, so the edge answered"
            )
            return await self._local(prompt, params, RouteInfo(route="edge", rule="local-only", reason=reason))
        info = RouteInfo(route="split", rule="forced", reason="client asked for split inference", requested="split")
        return await self._upstream_else_edge(
            prompt,
            params,
            info,
            policy,
            "split upstream unavailable, answered on the edge",
            backend=self.split,
            sends_text=False,
            raise_client_errors=False,
        )

    async def _speculative(
        self, prompt: Prompt, params: GenerationParams, policy: CloudPolicy
    ) -> Generation | JobRecord:
        if self.speculative is None:
            raise InvalidRequest(
                "speculative decoding is not configured on this edge (speculative_model and an upstream)",
                param="route",
            )
        if params.skip_threshold is None:
            reason = VERIFY_REASONS[self.settings.speculative_verify]
        else:
            reason = (
                f"edge drafts, cloud verifies; edge tokens with p >= {params.skip_threshold:g} are not verified, "
                "so the answer may differ from the cloud model's"
            )
        info = RouteInfo(route="speculative", rule="forced", reason=reason, requested="speculative")
        fallback = "speculative upstream unavailable, answered on the edge"
        return await self._upstream_else_edge(prompt, params, info, policy, fallback, backend=self.speculative)

    async def remote(
        self,
        prompt: Prompt,
        params: GenerationParams,
        info: RouteInfo,
        policy: CloudPolicy,
        backend: Backend | None = None,
        sends_text: bool = False,
    ) -> Generation:
        """Ask the upstream with what the policy lets it see; restore placeholders in what comes back.

        ``backend`` is the full-generation upstream by default, the SpeculativeBackend (text, so
        it gets the redacted prompt: ``sends_text``), or the SplitBackend (which sends hidden
        states of the original prompt: only reached when the policy allows raw data).
        """
        upstream = backend or self.upstream
        assert upstream is not None
        privacy = policy.privacy if backend is None or sends_text else None
        # full generation: the pool feeds each upstream's own breaker; sessions go to the primary's
        link = self.link if backend is not None else None
        if link is not None and not link.allow():
            snap = link.snapshot()
            self.metrics.upstream_errors.labels(kind="LinkDown").inc()
            raise LinkDown(
                f"circuit open after {snap.consecutive_failures} failures; next probe in {snap.retry_in_s:.1f} s"
            )
        start = time.perf_counter()
        try:
            sent = await privacy.upstream_prompt_off_loop() if privacy is not None else prompt
            sent, params = await self._for_upstream(sent, params, privacy, info, compress=backend is None)
            events = await primed(upstream.stream(sent, params))
        except UpstreamError as exc:
            self.metrics.upstream_errors.labels(kind=type(exc).__name__).inc()
            if link is not None:
                link.record_outcome(exc.status_code, (time.perf_counter() - start) * 1000)
            raise
        except BaseException:
            # Not an upstream outcome: a local error before anything was sent (split and speculative
            # run edge code first: a full queue, an over-long prompt) or the client left. No verdict
            # on the link; a half-open probe slot is released for the next call.
            if link is not None:
                link.cancel_probe()
            raise
        if link is not None:
            link.record_success((time.perf_counter() - start) * 1000)
        if privacy is not None and privacy.mapping.value_of:
            events = restoring(events, StreamRestorer(privacy.mapping))
        return Generation(info, self._finish_locally_on_break(events, prompt, params, info, link))

    async def _for_upstream(
        self, sent: Prompt, params: GenerationParams, privacy: PrivacyPlan | None, info: RouteInfo, compress: bool
    ) -> tuple[Prompt, GenerationParams]:
        """What leaves this tier: the (redacted) prompt, compressed for full generation when configured,
        and the headers that travel with it (the privacy floor the next hop must keep to)."""
        if privacy is not None and (floor := privacy.upstream_floor):
            params = params.with_upstream_header("x-edgesplit-privacy", floor)
        for step in self.escalation if compress else ():
            processed = await asyncio.to_thread(step.apply, sent)  # it reads the model's embeddings: off the loop
            sent = processed.prompt
            info.preprocessing.append(processed.applied.info())
        return sent, params

    async def _learned(
        self, prompt: Prompt, params: GenerationParams, policy: CloudPolicy, router: LearnedRouter
    ) -> Generation | JobRecord:
        """Auto with the learned router: its rules, else its score of the prompt, before any token."""
        text = prompt.text if prompt.text is not None else prompt.messages[-1][1]
        local = self.local if isinstance(self.local, LocalBackend) else None
        tokens = local.tokenize(prompt) if local is not None else []
        n_tokens = len(tokens) if local is not None else len(text) // 4
        decision = router.by_rules(policy.hints, n_tokens)
        if decision is None and local is None and (router.needs_hidden or router.needs_embedding):
            decision = LearnedDecision("edge", "learned-kept", "no local model to read prompt features from")
        if decision is None and local is not None and router.needs_hidden:
            decision, events = await score_while_evaluating(local, router, prompt, params, text)
            if events is not None:
                return Generation(learned_info(decision, router), events)
        if decision is None:
            try:
                embedded = (await self.token_embeddings()).mean(tokens) if router.needs_embedding else None
                decision = router.by_score(PromptView(text, n_tokens, embedded=embedded))
            except (ValueError, ModelError) as exc:
                decision = unscored(router, exc)
        info = learned_info(decision, router)
        if decision.route == "edge":
            return await self._local(prompt, params, info)
        return await self._upstream_else_edge(prompt, params, info, policy, "cloud unavailable, answered on the edge")

    def reset_embeddings(self) -> None:
        """Forget the cached token embeddings (the edge model was replaced)."""
        self._embeddings = None

    async def token_embeddings(self) -> TokenEmbeddings:
        """The edge model's input embedding table, opened on first use (memory-mapped)."""
        if self._embeddings is None:
            self._embeddings = await asyncio.to_thread(
                TokenEmbeddings, locate_model(self.settings.model, self.settings.model_sha256)
            )
        return self._embeddings

    async def _finish_locally_on_break(
        self, events: Events, prompt: Prompt, params: GenerationParams, info: RouteInfo, link: LinkMonitor | None
    ) -> Events:
        """Pass upstream events through; if the stream breaks, the edge model finishes the answer."""
        received: list[str] = []
        try:
            async for event in events:
                if isinstance(event, TokenEvent):
                    received.append(event.text)
                yield event
            return
        except UpstreamError as exc:
            await events.aclose()
            self.metrics.upstream_errors.labels(kind="midstream").inc()
            if link is not None:
                link.record_failure()
            reason = f"{info.reason}; upstream broke after {len(received)} chunks, finished on the edge"
            self.note_fallback(info, exc, reason, keep_route=True)
        remaining = params.max_tokens - len(received)
        if remaining <= 0:
            yield Finish(reason="length", prompt_tokens=0, completion_tokens=len(received))
            return
        continued = prompt.continued("".join(received))
        async for event in self.local.stream(
            continued, replace(params, max_tokens=remaining, max_tokens_explicit=False)
        ):
            if isinstance(event, Finish):
                event = replace(event, completion_tokens=event.completion_tokens + len(received))
            yield event

    def note_fallback(self, info: RouteInfo, exc: UpstreamError, reason: str, keep_route: bool = False) -> None:
        if not keep_route:
            info.route = "edge"
        info.rule = "fallback"
        info.fallback = True
        info.reason = reason
        info.upstream_error = str(exc)
