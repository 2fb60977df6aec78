"""What the HTTP layer needs from a node, as protocols: the node, its job queue and its feedback sink.

The HTTP layer sits below both tiers and imports neither: the edge and the cloud nodes satisfy
these protocols, and the request types they exchange live in ``edgesplit.request_flow``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Protocol

from edgesplit.config import Settings
from edgesplit.errors import NotFound
from edgesplit.generation import GenerationParams, Prompt
from edgesplit.metrics import NodeMetrics
from edgesplit.request_flow import CloudPolicy, Generation
from edgesplit.schemas import FeedbackMark, JobRecord, RouteName

if TYPE_CHECKING:
    from fastapi import FastAPI

    from edgesplit.http.results import ResultStore
    from edgesplit.preprocess.base import Preprocessor
    from edgesplit.privacy.redactor import PrivacyPlan, Redactor

__all__ = ["FeedbackSink", "JobQueue", "Node", "apply_mark"]


class JobQueue(Protocol):
    """Deferred work as ``/v1/jobs`` reads it (the edge's Outbox)."""

    def get(self, job_id: str) -> JobRecord | None: ...

    def jobs(self, status: str | None = None, limit: int = 100) -> list[JobRecord]: ...

    def counts(self) -> dict[str, int]: ...

    def counts_by_kind(self) -> dict[str, dict[str, int]]: ...


class FeedbackSink(Protocol):
    """Where the pipeline notes hard cases and users' verdicts (the edge's FeedbackRecorder)."""

    def observe(self, gen: Generation, plan: PrivacyPlan | None, response_id: str) -> Generation: ...

    async def mark(self, response_id: str, rating: str) -> bool: ...


async def apply_mark(sink: FeedbackSink, mark: FeedbackMark) -> None:
    """Record the verdict; NotFound when this node does not (or no longer) remember the answer."""
    if not await sink.mark(mark.response_id, mark.rating):
        raise NotFound(
            f"no recent local answer {mark.response_id!r} on this node (only answers kept on the edge are remembered)",
            param="response_id",
            code="response_not_found",
        )


class Node(Protocol):
    """What the HTTP layer needs from a node. Both tiers implement all of it; what a tier lacks is None."""

    settings: Settings
    metrics: NodeMetrics
    redactor: Redactor | None  # the edge's privacy step; None on the cloud
    results: ResultStore | None  # idempotent results (the cloud)
    preprocessors: Sequence[Preprocessor]  # before routing, in order (edgesplit.preprocess)

    @property
    def outbox(self) -> JobQueue | None: ...  # deferred work (the edge, with an upstream)

    @property
    def feedback(self) -> FeedbackSink | None: ...  # hard cases sent up (the edge, with an outbox)

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
