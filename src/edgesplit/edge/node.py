"""EdgeNode: the tier next to the user. Answers locally, escalates to the upstream, falls back.

Request path: resolve the route (forced or auto) → generate on the chosen tier → on upstream
failure, do what the request's policy says: answer locally and flag it (``fallback``, the
default), store it in the outbox and answer 202 with a job id (``defer``), or fail with the
upstream's error (``error``). Errors before the first token (unreachable, timeout, 5xx, 429,
an open circuit) take that path at once; a stream that breaks later is finished by the edge
model from the text received so far, and the final chunk's ``edgesplit`` metadata says so.
Requests marked ``batch`` skip all this: they go to the outbox and the delivery worker.
"""

from __future__ import annotations

import asyncio
import copy
import logging
import time
from dataclasses import replace
from typing import TYPE_CHECKING

from edgesplit.admission import ModelQueue
from edgesplit.background import run_in_background
from edgesplit.config import Settings
from edgesplit.edge.delivery import DeliveryWorker
from edgesplit.edge.outbox import Outbox
from edgesplit.edge.streams import drain, learned_info, replay, resume, score_while_evaluating
from edgesplit.errors import InvalidRequest, LinkDown, ModelError, UpstreamError
from edgesplit.generation import Backend, Finish, GenerationParams, Prompt, TokenEvent, mean_logprob
from edgesplit.http.node import FALLBACK, CloudPolicy, Events, Generation, primed
from edgesplit.llama.backend import LocalBackend
from edgesplit.metrics import NodeMetrics
from edgesplit.models import locate_model
from edgesplit.privacy.redactor import Redactor
from edgesplit.privacy.restore import StreamRestorer, restore
from edgesplit.privacy.sealed import SealedMappings, load_key
from edgesplit.routing.embedding import TokenEmbeddings
from edgesplit.routing.learned import LearnedDecision, LearnedRouter, RouterHolder
from edgesplit.routing.router import EDGE_ALIASES, CascadePolicy, resolve_route
from edgesplit.routing.scorer import PromptView
from edgesplit.schemas import JobRecord, RouteInfo, RouteName
from edgesplit.transport.link import LinkMonitor, counts_against_link
from edgesplit.transport.probe import LinkProber
from edgesplit.transport.remote import RemoteBackend

if TYPE_CHECKING:
    from edgesplit.edge.replan import Replanner

__all__ = ["EdgeNode"]

log = logging.getLogger("edgesplit.edge")

# Upstream answers that mean "this request is wrong", not "the cloud is failing": no fallback.
_CLIENT_ERRORS = frozenset({400, 404, 413, 422})


class EdgeNode:
    """Serves the edge model and routes to the upstream per request."""

    def __init__(
        self,
        settings: Settings,
        local: Backend,
        upstream: Backend | None,
        metrics: NodeMetrics,
        outbox: Outbox | None = None,
        redactor: Redactor | None = None,
        split: Backend | None = None,
        speculative: Backend | None = None,
        sealed: SealedMappings | None = None,
    ) -> None:
        self.settings = settings
        self.redactor = redactor  # classify + redact before anything leaves; None = everything may leave as is
        self.sealed = sealed  # deferred jobs' mappings, encrypted on disk, for answers after a restart
        self.split = split  # the SplitBackend, when a split model is configured
        self.speculative = speculative  # the SpeculativeBackend, when the upstream verifies drafts
        self.replanner: Replanner | None = None
        self._replan_task: asyncio.Task[None] | None = None
        self.metrics = metrics
        self.local = local
        self.upstream = upstream
        self.cascade = CascadePolicy(settings.cascade_threshold, settings.cascade_probe_tokens)
        hidden_dim = local.hidden_dim if isinstance(local, LocalBackend) else None
        self.router = RouterHolder(settings.router_artifact, settings.model, hidden_dim)
        self._router_task: asyncio.Task[None] | None = None
        self._embeddings: TokenEmbeddings | None = None
        self.link = LinkMonitor(
            failure_threshold=settings.link_failure_threshold,
            backoff_s=settings.link_backoff_s,
            max_backoff_s=settings.link_max_backoff_s,
            on_change=lambda state: metrics.link_state.state(state.value),
        )
        metrics.link_rtt.set_function(lambda: (self.link.rtt_ms or 0.0) / 1000)
        metrics.link_bandwidth.set_function(lambda: self.link.bandwidth_mbps or 0.0)
        token = settings.upstream_secret()
        self.prober: LinkProber | None = None
        if settings.upstream and settings.link_probe_interval_s > 0:
            self.prober = LinkProber(
                self.link,
                settings.upstream,
                token,
                settings.link_probe_interval_s,
                settings.link_probe_bytes,
                timeout_s=settings.upstream_timeout_s,
            )
        self.outbox = outbox
        self.worker: DeliveryWorker | None = None
        if outbox is not None and settings.upstream:
            self.worker = DeliveryWorker(
                outbox,
                settings.upstream,
                token,
                self.link,
                timeout_s=max(settings.upstream_timeout_s, 120.0),  # a whole, unstreamed generation
                backoff_s=settings.outbox_backoff_s,
                max_backoff_s=settings.outbox_max_backoff_s,
                concurrency=settings.outbox_concurrency,
                restore=self.restore_job,
            )

    @classmethod
    def from_settings(cls, settings: Settings) -> EdgeNode:
        metrics = NodeMetrics("edge")
        queue = ModelQueue(
            settings.model, settings.queue_max_waiting, settings.queue_retry_after_s, metrics.set_queue_depth
        )
        local = LocalBackend(settings.model, locate_model(settings.model), queue, settings.n_ctx, settings.n_threads)
        upstream, outbox = None, None
        if settings.upstream:
            token = settings.upstream_secret()
            upstream = RemoteBackend(settings.upstream, settings.upstream_model, token, settings.upstream_timeout_s)
            path = settings.resolved_data_dir() / "outbox.sqlite"
            outbox = Outbox(path, settings.outbox_max_rows, settings.outbox_max_bytes)
        split = _split_backend(settings, metrics) if settings.split_model and settings.upstream else None
        speculative = None
        if settings.speculative_model and settings.upstream:
            from edgesplit.edge.remote_verifier import RemoteVerifier
            from edgesplit.edge.speculative import SpeculativeBackend

            verifier = RemoteVerifier(settings.upstream, settings.upstream_secret(), settings.upstream_timeout_s)
            speculative = SpeculativeBackend(
                local,
                verifier,
                settings.speculative_model,
                settings.speculative_verify,
                settings.speculative_max_draft,
                on_stats=lambda s: metrics.record_speculative(s.rounds, s.drafted, s.accepted, s.tokens),
            )
        redactor = Redactor.from_settings(settings)
        sealed = _sealed_mappings(settings) if outbox is not None else None
        return cls(settings, local, upstream, metrics, outbox, redactor, split, speculative, sealed)

    async def start(self) -> None:
        if self.router.current is not None and self.router.current.needs_embedding:
            await self._token_embeddings()
        if self.router.path is not None and self.settings.router_reload_s > 0:
            watch = self.router.watch(self.settings.router_reload_s)
            self._router_task = asyncio.create_task(watch, name="edgesplit-router-reload")
        if self.worker is not None:
            self.worker.start()
        if self.prober is not None:
            self.prober.start()
            if self.split is not None:
                self.replanner = self._replanner()
                self._replan_task = asyncio.create_task(self._replan_loop(), name="edgesplit-replan")

    def _replanner(self) -> Replanner:
        from edgesplit.edge.replan import Replanner

        assert self.settings.upstream is not None
        token = self.settings.upstream_secret()
        return Replanner(
            self.split,
            self.link,
            self.settings.upstream,
            token,
            self.settings.split_objective,
            self.settings.split_latency_budget_ms,
        )

    async def _replan_loop(self) -> None:
        """Follow the link: re-plan the split point whenever the prober's measurements move."""
        assert self.replanner is not None
        while True:
            await asyncio.sleep(self.settings.link_probe_interval_s)
            try:
                await self.replanner.maybe_replan()
            except Exception:  # a failed re-plan keeps the previous plan
                log.warning("re-planning failed; keeping the current split point", exc_info=True)

    async def defer(
        self, kind: str, request: dict[str, object], callback_url: str | None, conversation: str | None = None
    ) -> JobRecord:
        """Store a request for the cloud (already redacted) in the outbox; the worker delivers it.

        The commit waits for fsync, so it runs in a worker thread: token streams keep flowing."""
        if self.outbox is None:
            raise InvalidRequest("deferred requests need an upstream; none is configured", code="no_upstream")
        job = await run_in_background(self._store_job, kind, request, callback_url, conversation)
        if self.worker is not None:
            self.worker.wake()
        return job

    def _store_job(
        self, kind: str, request: dict[str, object], callback_url: str | None, conversation: str | None
    ) -> JobRecord:
        assert self.outbox is not None
        job = self.outbox.enqueue("chat" if kind == "chat" else "text", request, callback_url, conversation)
        mapping = self.redactor.vault.get(conversation) if conversation and self.redactor else None
        if self.sealed is not None and conversation and mapping is not None and mapping.value_of:
            self.sealed.seal(conversation, mapping)
        return job

    def restore_job(self, job: JobRecord) -> JobRecord:
        """A finished job's answer with placeholders restored, while the vault still holds its mapping."""
        if job.result is None or self.outbox is None or self.redactor is None:
            return job
        conversation = self.outbox.conversation_of(job.id)
        mapping = self.redactor.vault.get(conversation) if conversation else None
        if mapping is None and conversation and self.sealed is not None:
            mapping = self.sealed.open(conversation)  # the edge restarted since the job was deferred
        if mapping is None:
            return job.model_copy(update={"restored": False if conversation else None})
        result = copy.deepcopy(job.result)
        for choice in result.get("choices", []):
            if isinstance(choice.get("message", {}).get("content"), str):
                choice["message"]["content"] = restore(mapping, choice["message"]["content"])
            if isinstance(choice.get("text"), str):
                choice["text"] = restore(mapping, choice["text"])
        return job.model_copy(update={"result": result, "restored": True})

    def model_ids(self) -> list[str]:
        return [*EDGE_ALIASES, self.settings.model]

    def resolve(self, model: str, header: str | None, body_route: RouteName | None) -> RouteName:
        return resolve_route(model, self.settings.model, header, body_route)

    async def generate(
        self,
        prompt: Prompt,
        params: GenerationParams,
        route: RouteName,
        stream: bool,
        policy: CloudPolicy = FALLBACK,
    ) -> Generation | JobRecord:
        if policy.privacy is not None and not policy.privacy.may_leave:
            reason = f"privacy {policy.privacy.action} ({policy.privacy.rule}): the data stays on the edge"
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
        if (router := self.router.current) is not None:
            return await self._learned(prompt, params, policy, router)
        if stream:
            return await self._cascade_streaming(prompt, params, policy)
        return await self._cascade_whole(prompt, params, policy)

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
            return await self._remote(prompt, params, info, policy, backend, sends_text)
        except UpstreamError as exc:
            if raise_client_errors and exc.status_code in _CLIENT_ERRORS:
                raise
            if (job := await _not_falling_back(exc, policy)) is not None:
                return job
            self._note_fallback(info, exc, fallback_reason)
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
            reason = "edge drafts, cloud verifies: greedy, the cloud model's exact output"
        else:
            reason = (
                f"edge drafts, cloud verifies; edge tokens with p >= {params.skip_threshold:g} are not verified, "
                "so the answer may differ from the cloud model's"
            )
        info = RouteInfo(route="speculative", rule="forced", reason=reason, requested="speculative")
        fallback = "speculative upstream unavailable, answered on the edge"
        return await self._upstream_else_edge(prompt, params, info, policy, fallback, backend=self.speculative)

    async def _remote(
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
        if not self.link.allow():
            snap = self.link.snapshot()
            self.metrics.upstream_errors.labels(kind="LinkDown").inc()
            raise LinkDown(
                f"circuit open after {snap.consecutive_failures} failures; next probe in {snap.retry_in_s:.1f} s"
            )
        start = time.perf_counter()
        try:
            sent = await privacy.upstream_prompt_off_loop() if privacy is not None else prompt
            events = await primed(upstream.stream(sent, params))
        except UpstreamError as exc:
            self.metrics.upstream_errors.labels(kind=type(exc).__name__).inc()
            self._record_link(exc, start)
            raise
        except BaseException:
            # Not an upstream outcome: a local error before anything was sent (split and speculative
            # run edge code first: a full queue, an over-long prompt) or the client left. No verdict
            # on the link; a half-open probe slot is released for the next call.
            self.link.cancel_probe()
            raise
        self._record_link(None, start)
        if privacy is not None and privacy.mapping.value_of:
            events = _restoring(events, StreamRestorer(privacy.mapping))
        return Generation(info, self._finish_locally_on_break(events, prompt, params, info))

    def _record_link(self, exc: UpstreamError | None, start: float) -> None:
        """Feed the breaker: an answer (even a 4xx about the request) means the link works."""
        if exc is not None and counts_against_link(exc.status_code):
            self.link.record_failure()
            return
        self.link.record_success((time.perf_counter() - start) * 1000)

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
                embedded = (await self._token_embeddings()).mean(tokens) if router.needs_embedding else None
                decision = router.by_score(PromptView(text, n_tokens, embedded=embedded))
            except (ValueError, ModelError) as exc:  # a router that cannot score must not fail the request
                log.error("router %s could not score a request: %s", router.version, exc)
                decision = LearnedDecision("edge", "learned-kept", f"router could not score: {exc}")
        info = learned_info(decision, router)
        if decision.route == "edge":
            return await self._local(prompt, params, info)
        return await self._upstream_else_edge(prompt, params, info, policy, "cloud unavailable, answered on the edge")

    async def _token_embeddings(self) -> TokenEmbeddings:
        """The edge model's input embedding table, opened on first use (memory-mapped)."""
        if self._embeddings is None:
            self._embeddings = await run_in_background(TokenEmbeddings, locate_model(self.settings.model))
        return self._embeddings

    async def _cascade_whole(
        self, prompt: Prompt, params: GenerationParams, policy: CloudPolicy
    ) -> Generation | JobRecord:
        """Non-streamed auto: judge the whole edge answer, then keep it or ask the cloud."""
        tokens, finish = await drain(self.local.stream(prompt, params))
        verdict = self.cascade.judge(mean_logprob(tokens))
        edge_info = RouteInfo(
            route="edge",
            rule="cascade-kept",
            reason=verdict.reason,
            confidence=verdict.confidence,
            threshold=self.cascade.threshold,
        )
        if not verdict.escalate:
            return Generation(edge_info, replay(tokens, finish))
        cloud_info = edge_info.model_copy(update={"route": "cloud", "rule": "cascade-escalated"})
        try:
            generation = await self._remote(prompt, params, cloud_info, policy)
            cloud_tokens, cloud_finish = await drain(generation.events)
            return Generation(generation.route, replay(cloud_tokens, cloud_finish))
        except UpstreamError as exc:
            if (job := await _not_falling_back(exc, policy)) is not None:
                return job
            self._note_fallback(edge_info, exc, f"{verdict.reason}; cloud unavailable, kept the edge answer")
            return Generation(edge_info, replay(tokens, finish))

    async def _cascade_streaming(
        self, prompt: Prompt, params: GenerationParams, policy: CloudPolicy
    ) -> Generation | JobRecord:
        """Streamed auto: hold the first ``probe_tokens`` edge tokens, judge them, then commit to one tier.

        The local generation keeps running while the cloud is asked, so a failing cloud costs
        no extra time: the edge stream continues from where the probe stopped.
        """
        local = self.local.stream(prompt, params)
        probe: list[TokenEvent | Finish] = []
        async for event in local:
            probe.append(event)
            if isinstance(event, Finish) or len(probe) >= self.cascade.probe_tokens:
                break
        tokens = [e for e in probe if isinstance(e, TokenEvent)]
        verdict = self.cascade.judge(mean_logprob(tokens))
        info = RouteInfo(
            route="edge",
            rule="cascade-kept",
            reason=f"{verdict.reason} (first {len(tokens)} tokens)",
            confidence=verdict.confidence,
            threshold=self.cascade.threshold,
        )
        if verdict.escalate:
            cloud_info = info.model_copy(update={"route": "cloud", "rule": "cascade-escalated"})
            try:
                generation = await self._remote(prompt, params, cloud_info, policy)
            except UpstreamError as exc:
                try:
                    job = await _not_falling_back(exc, policy)
                except UpstreamError:
                    await local.aclose()  # type: ignore[attr-defined]
                    raise
                if job is not None:
                    await local.aclose()  # type: ignore[attr-defined]
                    return job
                self._note_fallback(info, exc, f"{info.reason}; cloud unavailable, stayed on the edge")
            else:
                await local.aclose()  # type: ignore[attr-defined]
                return generation
        return Generation(info, resume(probe, local))

    async def _finish_locally_on_break(
        self, events: Events, prompt: Prompt, params: GenerationParams, info: RouteInfo
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
            await events.aclose()  # type: ignore[attr-defined]
            self.metrics.upstream_errors.labels(kind="midstream").inc()
            self.link.record_failure()
            reason = f"{info.reason}; upstream broke after {len(received)} chunks, finished on the edge"
            self._note_fallback(info, exc, reason, keep_route=True)
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

    def _note_fallback(self, info: RouteInfo, exc: UpstreamError, reason: str, keep_route: bool = False) -> None:
        if not keep_route:
            info.route = "edge"
        info.rule = "fallback"
        info.fallback = True
        info.reason = reason
        info.upstream_error = str(exc)

    async def aclose(self) -> None:
        for task in (self._replan_task, self._router_task):
            if task is not None:
                task.cancel()
                await asyncio.gather(task, return_exceptions=True)
        for backend in (self.split, self.speculative):
            close = getattr(backend, "aclose", None)
            if close is not None:
                await close()
        if self.prober is not None:
            await self.prober.stop()
        if self.worker is not None:
            await self.worker.stop()
        if self.sealed is not None:
            self.sealed.close()
        if self.outbox is not None:
            self.outbox.close()
        if isinstance(self.upstream, RemoteBackend):
            await self.upstream.aclose()
        close = getattr(self.local, "close", None)
        if close is not None:
            close()


def _split_backend(settings: Settings, metrics: NodeMetrics) -> Backend:
    """The edge half of the split model: engine layers [0, k) plus the model's own tokenizer."""
    from edgesplit.edge.remote_segment import RemoteSegment
    from edgesplit.edge.split import SplitBackend
    from edgesplit.engine.weights import load_gguf
    from edgesplit.llama.tokenizer import ChatTokenizer

    assert settings.split_model is not None and settings.upstream is not None
    path = locate_model(settings.split_model)
    model = load_gguf(path, max_seq_len=settings.n_ctx)
    k = settings.split_k if settings.split_k is not None else model.config.n_layers // 2
    token = settings.upstream_secret()
    segment = RemoteSegment(settings.upstream, token, settings.upstream_timeout_s)
    name = f"{settings.split_model}/split"
    queue = ModelQueue(name, settings.queue_max_waiting, settings.queue_retry_after_s, metrics.set_queue_depth)
    tokenizer = ChatTokenizer.vocab_only(path)
    return SplitBackend(settings.split_model, model, tokenizer, segment, k, settings.split_codec, queue, settings.n_ctx)


async def _not_falling_back(exc: UpstreamError, policy: CloudPolicy) -> JobRecord | None:
    """Apply the request's policy to an upstream failure: a job (defer), a raise (error), or None (fall back)."""
    if policy.on_unavailable == "error":
        raise exc
    if policy.on_unavailable == "defer" and policy.enqueue is not None:
        return await policy.enqueue()
    return None


def _sealed_mappings(settings: Settings) -> SealedMappings:
    data_dir = settings.resolved_data_dir()
    configured = settings.vault_key.get_secret_value() if settings.vault_key else None
    key = load_key(data_dir / "vault.key", configured)
    return SealedMappings(data_dir / "vault.sqlite", key, settings.vault_ttl_s)


async def _restoring(events: Events, restorer: StreamRestorer) -> Events:
    """Placeholders in upstream text → original values, holding back only a possible partial placeholder.

    If the upstream breaks, what was held back is released before the error, so the edge's
    continuation starts from every character the upstream sent.
    """
    try:
        async for event in events:
            if isinstance(event, Finish):
                if tail := restorer.flush():
                    yield TokenEvent(text=tail)
                yield event
            else:
                yield replace(event, text=restorer.feed(event.text))
    except UpstreamError:
        if tail := restorer.flush():
            yield TokenEvent(text=tail)
        raise
    finally:
        await events.aclose()  # type: ignore[attr-defined]
