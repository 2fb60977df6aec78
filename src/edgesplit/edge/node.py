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
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from edgesplit.admission import ModelQueue
from edgesplit.background import run_in_background, stop_task
from edgesplit.config import Settings
from edgesplit.edge.delivery import DeliveryWorker
from edgesplit.edge.dispatch import Dispatcher
from edgesplit.edge.failover import FailoverBackend
from edgesplit.edge.outbox import Outbox
from edgesplit.edge.upstreams import UpstreamPool, upstream_pool
from edgesplit.errors import InvalidRequest
from edgesplit.generation import Backend, GenerationParams, Prompt
from edgesplit.llama.backend import LocalBackend
from edgesplit.metrics import NodeMetrics
from edgesplit.models import locate_model
from edgesplit.preprocess.base import Preprocessor, load_preprocessors
from edgesplit.privacy.redactor import Redactor
from edgesplit.privacy.restore import restore
from edgesplit.privacy.sealed import SealedMappings, load_key
from edgesplit.request_flow import FALLBACK, CloudPolicy, Generation
from edgesplit.routing.learned import RouterHolder, router_path
from edgesplit.routing.router import EDGE_ALIASES, resolve_route
from edgesplit.schemas import JobRecord, RouteName, SplitPlanInfo
from edgesplit.tracing import stage
from edgesplit.transport.link import LinkMonitor
from edgesplit.transport.probe import LinkProber
from edgesplit.transport.upstream import UpstreamClient

if TYPE_CHECKING:
    from fastapi import FastAPI

    from edgesplit.edge.bundles import BundleStore
    from edgesplit.edge.feedback import FeedbackRecorder
    from edgesplit.edge.replan import Replanner
    from edgesplit.edge.sync_service import SyncService
    from edgesplit.http.results import ResultStore

__all__ = ["EdgeNode"]

log = logging.getLogger("edgesplit.edge")


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
        pool: UpstreamPool | None = None,
        results: ResultStore | None = None,
    ) -> None:
        self.settings = settings
        self.pool = pool  # the upstreams (edge/upstreams.py); full generation fails over across them
        client = pool.primary.client if pool is not None else None
        self.client = client  # the primary upstream's client: sessions, probes, the outbox, sync
        self.redactor = redactor  # classify + redact before anything leaves; None = everything may leave as is
        self.sealed = sealed  # deferred jobs' mappings, encrypted on disk, for answers after a restart
        self.split = split  # the SplitBackend, when a split model is configured
        self.speculative = speculative  # the SpeculativeBackend, when the upstream verifies drafts
        self.replanner: Replanner | None = None
        self.sync: SyncService | None = None  # pulls signed bundles from the upstream (sync_root)
        self._replan_task: asyncio.Task[None] | None = None
        self.metrics = metrics
        self.local = local
        self.upstream = upstream
        hidden_dim = local.hidden_dim if isinstance(local, LocalBackend) else None
        artifact = router_path(settings.router_artifact, settings.served_model, settings.router_packaged)
        self.router = RouterHolder(artifact, settings.served_model, hidden_dim)
        self._router_task: asyncio.Task[None] | None = None
        self.link = pool.primary.link if pool is not None else LinkMonitor()  # the primary's breaker
        steps = load_preprocessors(settings.preprocessors, settings)
        self.preprocessors: Sequence[Preprocessor] = [step for step in steps if step.stage == "before-routing"]
        escalation = [step for step in steps if step.stage == "escalation"]
        self.dispatch = Dispatcher(
            settings, local, upstream, self.link, metrics, self.router, split, speculative, escalation
        )
        metrics.link_rtt.set_function(lambda: (self.link.rtt_ms or 0.0) / 1000)
        metrics.link_bandwidth.set_function(lambda: self.link.bandwidth_mbps or 0.0)
        self.prober: LinkProber | None = pool.primary.prober if pool is not None else None
        self.outbox = outbox
        self.feedback: FeedbackRecorder | None = None
        if outbox is not None and settings.feedback:
            from edgesplit.edge.feedback import FeedbackRecorder

            self.feedback = FeedbackRecorder(
                self, settings.feedback_shadow_rate, settings.feedback_batch, settings.feedback_flush_s
            )
        self.results = results  # a local tier runs its devices' deliveries once per key, as the cloud does
        self.worker: DeliveryWorker | None = None
        if outbox is not None and client is not None:
            self.worker = DeliveryWorker(
                outbox,
                client,
                self.link,
                timeout_s=max(settings.upstream_timeout_s, 120.0),  # a whole, unstreamed generation
                backoff_s=settings.outbox_backoff_s,
                max_backoff_s=settings.outbox_max_backoff_s,
                concurrency=settings.outbox_concurrency,
                restore=self.restore_job,
            )

    @classmethod
    def from_settings(cls, settings: Settings) -> EdgeNode:
        """The node a configuration describes; with ``sync_root``, serving the synced bundle it has."""
        if settings.sync_root is None:
            return cls._build(settings)
        from edgesplit.edge.sync_service import sync_service

        base = settings
        store, settings, version = _synced_settings(base)
        node = cls._build(settings)
        node.sync = sync_service(node, base, store, version)
        return node

    @classmethod
    def _build(cls, settings: Settings) -> EdgeNode:
        metrics = NodeMetrics(settings.role)
        local = LocalBackend.for_node(settings, metrics)
        upstream, outbox, client = None, None, None
        pool = upstream_pool(settings, metrics)
        if pool is not None:
            client = pool.primary.client
            upstream = FailoverBackend(pool, metrics)
            path = settings.resolved_data_dir() / "outbox.sqlite"
            outbox = Outbox(path, settings.outbox_max_rows, settings.outbox_max_bytes)
        split = _split_backend(settings, metrics, client) if settings.split_model and client else None
        speculative = None
        if settings.speculative_model and client is not None:
            from edgesplit.edge.remote_verifier import RemoteVerifier
            from edgesplit.edge.speculative import SpeculativeBackend

            verifier = RemoteVerifier(client)
            speculative = SpeculativeBackend(
                local,
                verifier,
                settings.speculative_model,
                settings.speculative_verify,
                settings.speculative_max_draft,
                on_stats=lambda s: metrics.record_speculative(s.rounds, s.drafted, s.accepted, s.tokens),
                pipeline=settings.speculative_pipeline,
            )
        redactor = Redactor.from_settings(settings)
        sealed = _sealed_mappings(settings) if outbox is not None else None
        results = None
        if settings.role == "local":
            from edgesplit.http.results import ResultStore

            results = ResultStore(settings.resolved_data_dir() / "results.sqlite")
        return cls(settings, local, upstream, metrics, outbox, redactor, split, speculative, sealed, pool, results)

    async def start(self) -> None:
        if self.router.current is not None and self.router.current.needs_embedding:
            await self.dispatch.token_embeddings()
        if self.router.path is not None and self.settings.router_reload_s > 0:
            watch = self.router.watch(self.settings.router_reload_s)
            self._router_task = asyncio.create_task(watch, name="edgesplit-router-reload")
        if self.worker is not None:
            self.worker.start()
        if self.sync is not None:
            self.sync.start(self.settings.sync_interval_s)
        if self.feedback is not None:
            self.feedback.start()
        if self.pool is not None:
            self.pool.start()
        if self.prober is not None and self.split is not None:
            self.replanner = self._replanner()
            self._replan_task = asyncio.create_task(self._replan_loop(), name="edgesplit-replan")

    def _replanner(self) -> Replanner:
        from edgesplit.edge.replan import Replanner

        assert self.client is not None
        return Replanner(
            self.split,
            self.link,
            self.client,
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

    def add_routes(self, app: FastAPI) -> None:
        """``GET /v1/split/plan``: the current split plan, re-planned now if the link moved; the sync routes."""
        if self.sync is not None:
            self.sync.add_routes(app)
        if self.feedback is not None:
            from edgesplit.edge.feedback_api import add_feedback_mark_route

            add_feedback_mark_route(app, self.feedback)
        if self.settings.role == "local" and self.client is not None:
            from edgesplit.edge.sync_mirror import add_sync_mirror_routes

            add_sync_mirror_routes(app, self.client)  # its devices sync and send feedback through it

        @app.get("/v1/split/plan", response_model=SplitPlanInfo)
        async def split_plan() -> SplitPlanInfo:
            if self.replanner is None:
                raise InvalidRequest(
                    "no split planner: needs split_model, an upstream and link probes", code="no_planner"
                )
            await self.replanner.maybe_replan()
            return self.replanner.describe()

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
        return [*EDGE_ALIASES, self.settings.served_model]

    def describe(self) -> dict[str, Any]:
        """What runs here, for the dashboard: model, router, privacy policy, bundle and sync state."""
        settings = self.settings
        status = self.sync.snapshot() if self.sync is not None else None
        return {
            "role": settings.role, "tier": settings.tier, "model": settings.served_model,
            "upstream": settings.upstream is not None, "link": self.link.state.value,
            "upstreams": self.pool.describe() if self.pool is not None else [],
            "router": self.router.describe(),
            "policy": f"{settings.privacy_default} ({settings.privacy_preset}, {len(settings.privacy_rules)} rules)",
            "bundle": status["current"] if status else None, "sync": status,
        }  # fmt: skip

    def resolve(self, model: str, header: str | None, body_route: RouteName | None) -> RouteName:
        return resolve_route(model, self.settings.served_model, header, body_route)

    async def generate(
        self,
        prompt: Prompt,
        params: GenerationParams,
        route: RouteName,
        stream: bool,
        policy: CloudPolicy = FALLBACK,
    ) -> Generation | JobRecord:
        """Dispatch: the route strategies live in :class:`~edgesplit.edge.dispatch.Dispatcher`."""
        with stage("route") as span:
            gen = await self.dispatch.generate(prompt, params, route, stream, policy)
            if isinstance(gen, Generation):
                span.set_attributes({"edgesplit.route": gen.route.route, "edgesplit.rule": gen.route.rule})
            return gen

    async def aclose(self) -> None:
        for task in (self._replan_task, self._router_task):
            await stop_task(task)
        if self.sync is not None:
            await self.sync.stop()
        if self.feedback is not None:
            await self.feedback.stop()  # a partial batch goes into the outbox before it closes
        if self.pool is not None:
            await self.pool.stop_probers()  # nothing measures the links while the rest shuts down
        for backend in (self.split, self.speculative):
            close = getattr(backend, "aclose", None)
            if close is not None:
                await close()
        if self.worker is not None:
            await self.worker.stop()
        if self.sealed is not None:
            self.sealed.close()
        if self.outbox is not None:
            self.outbox.close()
        if self.pool is not None:
            await self.pool.aclose()  # every client, last: the worker and the sessions used them
        close = getattr(self.local, "close", None)
        if close is not None:
            close()


def _split_backend(settings: Settings, metrics: NodeMetrics, client: UpstreamClient) -> Backend:
    """The edge half of the split model: engine layers [0, k) plus the model's own tokenizer."""
    from edgesplit.edge.remote_segment import RemoteSegment
    from edgesplit.edge.split import SplitBackend
    from edgesplit.engine.weights import load_gguf
    from edgesplit.llama.tokenizer import ChatTokenizer

    assert settings.split_model is not None
    path = locate_model(settings.split_model)
    model = load_gguf(path, max_seq_len=settings.n_ctx)
    k = settings.split_k if settings.split_k is not None else model.config.n_layers // 2
    segment = RemoteSegment(client)
    name = f"{settings.split_model}/split"
    queue = ModelQueue(name, settings.queue_max_waiting, settings.queue_retry_after_s, metrics.set_queue)
    tokenizer = ChatTokenizer.vocab_only(path)
    return SplitBackend(settings.split_model, model, tokenizer, segment, k, settings.split_codec, queue, settings.n_ctx)


def _synced_settings(base: Settings) -> tuple[BundleStore, Settings, int | None]:
    from edgesplit.edge.bundles import BundleStore
    from edgesplit.edge.swap import settings_at_start

    store = BundleStore(base.resolved_data_dir() / "sync")
    settings, version = settings_at_start(base, store)
    return store, settings, version


def _sealed_mappings(settings: Settings) -> SealedMappings:
    data_dir = settings.resolved_data_dir()
    configured = settings.vault_key.get_secret_value() if settings.vault_key else None
    key = load_key(data_dir / "vault.key", configured)
    return SealedMappings(data_dir / "vault.sqlite", key, settings.vault_ttl_s)
