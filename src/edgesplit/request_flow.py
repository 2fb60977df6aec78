"""What a node is asked for and what it hands back: the request's cloud policy and the Generation.

These types sit below the HTTP layer and both tiers: the pipeline (``http/``) builds a
``CloudPolicy`` and reads a ``Generation``; the edge and the cloud nodes take one and make the other.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Awaitable, Callable
from dataclasses import dataclass, field

from edgesplit.errors import UpstreamError
from edgesplit.generation import Finish, TokenEvent
from edgesplit.privacy.redactor import PrivacyPlan
from edgesplit.routing.learned import RequestHints
from edgesplit.schemas import JobRecord, OnUnavailable, RouteInfo

__all__ = ["FALLBACK", "CloudPolicy", "Events", "Generation", "not_falling_back", "primed"]

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


async def not_falling_back(exc: UpstreamError, policy: CloudPolicy) -> JobRecord | None:
    """Apply the request's policy to an upstream failure: a job (defer), a raise (error), or None (fall back)."""
    if policy.on_unavailable == "error":
        raise exc
    if policy.on_unavailable == "defer" and policy.enqueue is not None:
        return await policy.enqueue()
    return None
