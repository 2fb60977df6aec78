"""What the HTTP layer needs from a node, and the Generation it hands back."""

from __future__ import annotations

from collections.abc import AsyncGenerator, Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from edgesplit.config import Settings
from edgesplit.generation import Finish, GenerationParams, Prompt, TokenEvent
from edgesplit.metrics import NodeMetrics
from edgesplit.privacy.redactor import PrivacyPlan
from edgesplit.routing.learned import RequestHints
from edgesplit.schemas import JobRecord, OnUnavailable, RouteInfo, RouteName

if TYPE_CHECKING:
    from fastapi import FastAPI

    from edgesplit.edge.feedback import FeedbackRecorder
    from edgesplit.edge.outbox import Outbox
    from edgesplit.http.results import ResultStore
    from edgesplit.preprocess.base import Preprocessor
    from edgesplit.privacy.redactor import Redactor

__all__ = ["FALLBACK", "CloudPolicy", "Events", "Generation", "Node", "primed"]

Events = AsyncGenerator[TokenEvent | Finish, None]


@dataclass
class Generation:
    """A started generation: where it runs (``route`` may gain a fallback flag later) and its events."""

    route: RouteInfo
    events: Events


@dataclass(frozen=True)
class CloudPolicy:
    """What one request lets the cloud see, and what it wants when the cloud cannot serve it.

    ``privacy`` (from the edge's Redactor) holds the prompt the upstream may receive and the
    placeholder mapping that restores its answer; ``on_unavailable`` is ``fallback`` (answer
    on the edge), ``defer`` (store via ``enqueue``: 202 + job) or ``error``.
    """

    on_unavailable: OnUnavailable = "fallback"
    enqueue: Callable[[], Awaitable[JobRecord]] | None = None
    privacy: PrivacyPlan | None = None
    hints: RequestHints = field(default_factory=RequestHints)  # for the learned router's rules


FALLBACK = CloudPolicy()  # the default: nothing to redact, answer on the edge when the cloud fails


class Node(Protocol):
    """What the HTTP layer needs from a node. Both tiers implement all of it; what a tier lacks is None."""

    settings: Settings
    metrics: NodeMetrics
    redactor: Redactor | None  # the edge's privacy step; None on the cloud
    outbox: Outbox | None  # deferred work (the edge, with an upstream)
    results: ResultStore | None  # idempotent results (the cloud)
    preprocessors: Sequence[Preprocessor]  # before routing, in order (edgesplit.preprocess)
    feedback: FeedbackRecorder | None  # hard cases sent up (the edge, with an outbox)

    def model_ids(self) -> list[str]: ...

    def describe(self) -> dict[str, Any]: ...  # role, tier, model and versions, for GET /v1/stats

    def resolve(self, model: str, header: str | None, body_route: RouteName | None) -> RouteName: ...

    async def generate(
        self,
        prompt: Prompt,
        params: GenerationParams,
        route: RouteName,
        stream: bool,
        policy: CloudPolicy = ...,
    ) -> Generation | JobRecord: ...

    async def defer(
        self, kind: str, request: dict[str, object], callback_url: str | None, conversation: str | None = None
    ) -> JobRecord: ...

    def restore_job(self, job: JobRecord) -> JobRecord: ...

    def add_routes(self, app: FastAPI) -> None:
        """The tier's own routes (split and verify sessions, the split plan)."""

    async def start(self) -> None: ...

    async def aclose(self) -> None: ...


async def primed(events: Events) -> Events:
    """Start ``events`` and wait for its first item, so errors raised before any token surface here.

    The HTTP layer calls this before it sends a status line: a full queue, an overlong prompt
    or an unreachable upstream still become a proper 4xx/5xx (or a fallback), not a broken stream.
    """
    try:
        first = await anext(events)
    except BaseException:
        await events.aclose()
        raise

    async def chain() -> Events:
        try:
            yield first
            async for item in events:
                yield item
        finally:
            await events.aclose()

    return chain()
