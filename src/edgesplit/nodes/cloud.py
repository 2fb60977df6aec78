"""CloudNode: the top tier. Serves its own (bigger) model to authenticated callers."""

from __future__ import annotations

from edgesplit.admission import ModelQueue
from edgesplit.backends.base import Backend, GenerationParams, Prompt
from edgesplit.backends.local import LocalBackend
from edgesplit.config import Settings
from edgesplit.errors import ConfigError, UnknownModel
from edgesplit.idempotency import ResultStore
from edgesplit.metrics import NodeMetrics
from edgesplit.models import locate_model
from edgesplit.nodes.base import FALLBACK, CloudPolicy, Generation, primed
from edgesplit.schemas import RouteInfo, RouteName

__all__ = ["CloudNode"]

_CLOUD_ALIASES = ("default", "edgesplit/cloud", "edgesplit/auto")


class CloudNode:
    """Answers every request with its local model; it has no upstream to route to."""

    def __init__(
        self, settings: Settings, backend: Backend, metrics: NodeMetrics, results: ResultStore | None = None
    ) -> None:
        if settings.api_token is None:
            raise ConfigError(
                "config key 'api_token' (env EDGESPLIT_API_TOKEN): the cloud tier requires a bearer token"
            )
        self.settings = settings
        self.metrics = metrics
        self.backend = backend
        self.results = results  # answers of idempotent requests (the edge's outbox deliveries)

    @classmethod
    def from_settings(cls, settings: Settings) -> CloudNode:
        metrics = NodeMetrics("cloud")
        queue = ModelQueue(
            settings.model, settings.queue_max_waiting, settings.queue_retry_after_s, metrics.set_queue_depth
        )
        backend = LocalBackend(settings.model, locate_model(settings.model), queue, settings.n_ctx, settings.n_threads)
        results = ResultStore(settings.resolved_data_dir() / "results.sqlite")
        return cls(settings, backend, metrics, results)

    def model_ids(self) -> list[str]:
        return [self.settings.model, *_CLOUD_ALIASES]

    def resolve(self, model: str, header: str | None, body_route: RouteName | None) -> RouteName:
        if model not in self.model_ids():
            served = ", ".join(self.model_ids())
            raise UnknownModel(
                f"model {model!r} is not served here; use one of: {served}", param="model", code="model_not_found"
            )
        return "cloud"

    async def start(self) -> None:
        pass

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
        if self.results is not None:
            self.results.close()
        close = getattr(self.backend, "close", None)
        if close is not None:
            close()
