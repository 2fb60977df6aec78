"""What the HTTP layer needs from a node, and the Generation it hands back."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Protocol

from edgesplit.config import Settings
from edgesplit.generation import Finish, GenerationParams, Prompt, TokenEvent
from edgesplit.metrics import NodeMetrics
from edgesplit.privacy.redactor import PrivacyPlan
from edgesplit.routing.learned import RequestHints
from edgesplit.schemas import JobRecord, OnUnavailable, RouteInfo, RouteName

__all__ = ["FALLBACK", "CloudPolicy", "Events", "Generation", "Node", "primed"]

Events = AsyncIterator[TokenEvent | Finish]


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
    settings: Settings
    metrics: NodeMetrics

    def model_ids(self) -> list[str]: ...

    def resolve(self, model: str, header: str | None, body_route: RouteName | None) -> RouteName: ...

    async def generate(
        self,
        prompt: Prompt,
        params: GenerationParams,
        route: RouteName,
        stream: bool,
        policy: CloudPolicy = ...,
    ) -> Generation | JobRecord: ...

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
        await events.aclose()  # type: ignore[attr-defined]
        raise

    async def chain() -> Events:
        try:
            yield first
            async for item in events:
                yield item
        finally:
            await events.aclose()  # type: ignore[attr-defined]

    return chain()
