"""CloudNode: the top tier. Serves its own (bigger) model to authenticated callers."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from edgesplit.background import stop_task
from edgesplit.cloud.feedback import FeedbackStore
from edgesplit.cloud.freshness import MetadataKeeper
from edgesplit.cloud.repository import repository_for, warn_of_offline_keys
from edgesplit.config import Settings
from edgesplit.errors import ConfigError, InvalidRequest, UnknownModel
from edgesplit.generation import Backend, GenerationParams, Prompt
from edgesplit.http.results import ResultStore
from edgesplit.llama.backend import LocalBackend
from edgesplit.metrics import NodeMetrics
from edgesplit.models import locate_model
from edgesplit.preprocess.base import Preprocessor, load_preprocessors
from edgesplit.request_flow import FALLBACK, CloudPolicy, Generation, primed
from edgesplit.schemas import JobRecord, RouteInfo, RouteName

if TYPE_CHECKING:
    from fastapi import FastAPI

    from edgesplit.cloud.split_sessions import SessionStore
    from edgesplit.cloud.verifier import Verifier
    from edgesplit.http.node import FeedbackSink, JobQueue
    from edgesplit.privacy.redactor import Redactor

__all__ = ["CloudNode"]

_CLOUD_ALIASES = ("default", "edgesplit/cloud", "edgesplit/auto")


class CloudNode:
    """Answers every request with its local model; it has no upstream to route to."""

    def __init__(
        self,
        settings: Settings,
        backend: Backend,
        metrics: NodeMetrics,
        results: ResultStore | None = None,
        split_sessions: SessionStore | None = None,
        verifier: Verifier | None = None,
    ) -> None:
        if not settings.requires_token:
            raise ConfigError(
                "config key 'api_token' (env EDGESPLIT_API_TOKEN): the cloud tier requires a bearer token"
            )
        self.settings = settings
        self.metrics = metrics
        self.backend = backend
        self.results = results  # answers of idempotent requests (the edge's outbox deliveries)
        self.split_sessions = split_sessions  # the suffix [k, N) of the split model, if one is configured
        self.verifier = verifier  # verify sessions for the edge's speculative drafts, if configured
        self.redactor: Redactor | None = None  # the cloud is the last tier: nothing to redact for
        self.outbox: JobQueue | None = None  # and nothing to defer to
        self.preprocessors: Sequence[Preprocessor] = _before_routing(settings)
        self.repository = repository_for(settings)  # bundles for the edges (`edgesplit publish`), under /v1/sync
        self.keeper = MetadataKeeper(self.repository, metrics, timedelta(days=settings.sync_expiry_warn_days))
        self._keeper_task: asyncio.Task[None] | None = None
        self.feedback: FeedbackSink | None = None  # the cloud records no candidates; it stores the edges':
        self.feedback_store = FeedbackStore(settings.resolved_data_dir() / "feedback.sqlite")

    @classmethod
    def from_settings(cls, settings: Settings) -> CloudNode:
        metrics = NodeMetrics("cloud")
        backend = LocalBackend.for_node(settings, metrics)
        results = ResultStore(settings.resolved_data_dir() / "results.sqlite")
        split = None
        if settings.split_model:
            from edgesplit.cloud.split_sessions import SessionStore
            from edgesplit.engine.weights import load_gguf

            engine = load_gguf(locate_model(settings.split_model), max_seq_len=settings.n_ctx)
            split = SessionStore(
                settings.split_model,
                engine,
                settings.split_session_ttl_s,
                settings.split_max_cache_bytes,
                settings.n_ctx,
            )
        verifier = None
        if settings.speculative_model:
            from edgesplit.cloud.verifier import Verifier

            verifier = Verifier(
                settings.speculative_model,
                locate_model(settings.speculative_model),
                settings.n_ctx,
                settings.n_threads,
                settings.speculative_session_ttl_s,
                settings.speculative_max_sessions,
            )
        return cls(settings, backend, metrics, results, split, verifier)

    def model_ids(self) -> list[str]:
        return [self.settings.served_model, *_CLOUD_ALIASES]

    def describe(self) -> dict[str, Any]:
        """What runs here, for the dashboard (the cloud has no router, policy or bundle of its own)."""
        settings = self.settings
        described = {"role": settings.role, "tier": settings.tier, "model": settings.served_model, "upstream": False}
        return {**described, "repository": self.keeper.describe()} if self.repository.initialised else described

    def resolve(self, model: str, header: str | None, body_route: RouteName | None) -> RouteName:
        if model not in self.model_ids():
            served = ", ".join(self.model_ids())
            raise UnknownModel(
                f"model {model!r} is not served here; use one of: {served}", param="model", code="model_not_found"
            )
        return "cloud"

    async def start(self) -> None:
        if self.repository.initialised or self.repository.has_online_keys():
            warn_of_offline_keys(self.repository.keys_dir)
            task = self.keeper.run(self.settings.sync_refresh_check_s)
            self._keeper_task = asyncio.create_task(task, name="edgesplit-tuf")

    def add_routes(self, app: FastAPI) -> None:
        """Split sessions and verify sessions, when their models are configured; the sync repository."""
        from edgesplit.cloud.feedback import add_feedback_routes
        from edgesplit.cloud.sync_api import add_sync_routes

        add_sync_routes(app, self.repository)
        add_feedback_routes(app, self.feedback_store, self.settings.max_body_bytes)
        if self.verifier is not None:
            from edgesplit.cloud.verify_api import add_speculative_routes

            add_speculative_routes(app, self.verifier, self.settings.default_max_tokens)
        if self.split_sessions is not None:
            from edgesplit.cloud.split_api import add_split_routes

            path = str(locate_model(self.split_sessions.model_name))
            add_split_routes(app, self.split_sessions, path)  # frames are bounded in the Guard

    async def defer(
        self, kind: str, request: dict[str, object], callback_url: str | None, conversation: str | None = None
    ) -> JobRecord:
        raise InvalidRequest("this node has no outbox to defer requests to", code="no_outbox")

    def restore_job(self, job: JobRecord) -> JobRecord:
        return job  # the cloud never redacted it

    async def generate(
        self,
        prompt: Prompt,
        params: GenerationParams,
        route: RouteName,
        stream: bool,
        policy: CloudPolicy = FALLBACK,
    ) -> Generation:
        events = await primed(self.backend.stream(prompt, params))
        return Generation(
            RouteInfo(route="cloud", rule="forced", reason="served by the cloud tier", requested=route), events
        )

    async def aclose(self) -> None:
        await stop_task(self._keeper_task)
        self.feedback_store.close()
        if self.results is not None:
            self.results.close()
        if self.verifier is not None:
            self.verifier.close_model()
        close = getattr(self.backend, "close", None)
        if close is not None:
            close()


def _before_routing(settings: Settings) -> list[Preprocessor]:
    """The cloud's pre-processors: it cleans and extracts like any tier; it never escalates, so no compress."""
    steps = load_preprocessors(settings.preprocessors, settings)
    if late := [step.name for step in steps if step.stage != "before-routing"]:
        raise ConfigError(
            f"config key 'preprocessors': {', '.join(late)} run when escalating; the cloud has no upstream"
        )
    return steps
