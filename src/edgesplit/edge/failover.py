"""FailoverBackend: full generation over the tier's upstreams, moving on when one fails.

One call tries the pool's upstreams in :meth:`~edgesplit.edge.upstreams.UpstreamPool.ranked`
order, skipping any whose circuit is open:

- **before the first token** (refused, timed out, 5xx, 429) the next upstream is asked at once,
  after the failed one has been asked again ``retries`` times (a load balancer: another server);
- **mid-stream**, the next upstream continues the answer from the text received so far (a
  final assistant message to continue, or the completion prompt plus that text), so the client
  sees one stream; an upstream that cannot continue a chat answer (``continues = "none"``) is
  skipped;
- a 4xx about the request (400, 404, 413, 422) is raised as it is: another server would say the same.

Each outcome feeds that upstream's own breaker and ``edgesplit_upstream_calls{upstream, outcome}``.
When every upstream has failed the last error is raised, and the dispatcher's policy takes over
(edge answer, outbox job or error; a broken stream is finished by the edge model).

Privacy: a request whose floor is ``site-only`` (the ``x-edgesplit-privacy`` header it carries)
goes only to upstreams with ``scope = "site"``. The text it continues from is the upstream's own
output, placeholders and all: nothing is restored before it leaves again.
"""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncGenerator
from contextlib import aclosing
from dataclasses import replace

from edgesplit.edge.upstreams import Upstream, UpstreamPool
from edgesplit.errors import LinkDown, UpstreamError
from edgesplit.generation import Finish, GenerationParams, Prompt, TokenEvent
from edgesplit.metrics import NodeMetrics
from edgesplit.schemas import UpstreamScope

__all__ = ["CLIENT_ERRORS", "FailoverBackend"]

log = logging.getLogger("edgesplit.edge")

# Upstream answers that mean "this request is wrong", not "the upstream is failing".
CLIENT_ERRORS = frozenset({400, 404, 413, 422})
_ANY_SCOPE: frozenset[UpstreamScope] = frozenset({"site", "cloud"})
_SITE_ONLY: frozenset[UpstreamScope] = frozenset({"site"})


class FailoverBackend:
    """The pool as one :class:`~edgesplit.generation.Backend`."""

    def __init__(self, pool: UpstreamPool, metrics: NodeMetrics) -> None:
        self.name = "cloud"
        self.pool = pool
        self.metrics = metrics

    async def stream(self, prompt: Prompt, params: GenerationParams) -> AsyncGenerator[TokenEvent | Finish, None]:
        received: list[str] = []
        last: UpstreamError | None = None
        for upstream in self.pool.ranked(_scopes(params)):
            for _ in range(1 + upstream.retries):
                if not _can_continue(upstream, prompt, received) or not upstream.link.allow():
                    break
                if last is not None:
                    log.warning("upstream failed (%s); trying %s after %d chunks", last, upstream.name, len(received))
                try:
                    async for event in self._attempt(upstream, prompt, params, received):
                        yield event
                    return
                except UpstreamError as exc:
                    if exc.status_code in CLIENT_ERRORS and not received:
                        raise
                    last = exc
        raise last if last is not None else LinkDown(self.pool.down_message())

    async def _attempt(
        self, upstream: Upstream, prompt: Prompt, params: GenerationParams, received: list[str]
    ) -> AsyncGenerator[TokenEvent | Finish, None]:
        """One upstream's part of the answer, continuing from ``received`` (which it extends)."""
        before = len(received)
        if before >= params.max_tokens:
            upstream.link.cancel_probe()
            yield Finish(reason="length", prompt_tokens=0, completion_tokens=before)
            return
        sent, sent_params = prompt, params
        if before:
            sent = prompt.continued("".join(received))
            sent_params = replace(params, max_tokens=params.max_tokens - before, max_tokens_explicit=False)
        start = time.perf_counter()
        answered = False
        self._track(upstream, +1)
        try:
            async with aclosing(upstream.backend.stream(sent, sent_params)) as events:
                async for event in events:
                    if not answered:
                        answered = True
                        upstream.link.record_success((time.perf_counter() - start) * 1000)
                    if isinstance(event, TokenEvent):
                        received.append(event.text)
                    else:
                        event = replace(event, completion_tokens=event.completion_tokens + before)
                    yield event
            self.metrics.upstream_calls.labels(upstream=upstream.name, outcome="ok").inc()
        except UpstreamError as exc:
            if answered:
                upstream.link.record_failure()
            else:
                upstream.link.record_outcome(exc.status_code, (time.perf_counter() - start) * 1000)
            outcome = "broken" if answered else "failed"
            self.metrics.upstream_calls.labels(upstream=upstream.name, outcome=outcome).inc()
            raise
        except BaseException:
            if not answered:  # a local error or the client left: no verdict on the upstream
                upstream.link.cancel_probe()
            raise
        finally:
            self._track(upstream, -1)

    def _track(self, upstream: Upstream, change: int) -> None:
        upstream.in_flight += change
        self.metrics.upstream_in_flight.labels(upstream=upstream.name).set(upstream.in_flight)


def _can_continue(upstream: Upstream, prompt: Prompt, received: list[str]) -> bool:
    """Can ``upstream`` take up this chat answer where it stands (config.UpstreamConfig.continues)?"""
    begun = bool(received or prompt.continuation)
    return not (begun and prompt.is_chat and upstream.continues == "none")


def _scopes(params: GenerationParams) -> frozenset[UpstreamScope]:
    """Where this request may go: site-only data to on-premises upstreams alone."""
    return _SITE_ONLY if dict(params.upstream_headers).get("x-edgesplit-privacy") == "site-only" else _ANY_SCOPE
