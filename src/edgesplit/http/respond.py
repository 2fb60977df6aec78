"""Stages 6 and 7 on the HTTP side, respond and record: a Generation as OpenAI JSON or SSE, with its metrics.

Restoring placeholders happens before this (the edge wraps the upstream's events); here the
events become a ``chat.completion`` / ``text_completion`` body or its chunks, and each token
feeds the time-to-first-token and inter-token histograms of its route.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

from fastapi import Request
from pydantic import ValidationError

from edgesplit.generation import Finish, TokenEvent
from edgesplit.http.errors import log_internal, map_error
from edgesplit.http.openai_format import ResponseBuilder, sse
from edgesplit.schemas import Hop
from edgesplit.tracing import open_span, stage

if TYPE_CHECKING:
    from edgesplit.http.node import Node
    from edgesplit.request_flow import Generation

__all__ = ["TokenClock", "collect", "count_route", "stream_sse"]


class TokenClock:
    """Feeds the time-to-first-token and inter-token histograms for one request."""

    def __init__(self, node: Node) -> None:
        self.node = node
        self.metrics = node.metrics
        self.start = self.last = time.perf_counter()
        self.count = 0
        self._series: dict[str, tuple[Any, Any, Any]] = {}  # route → its labelled children, looked up once

    def __call__(self, route: str) -> None:
        now = time.perf_counter()
        series = self._series.get(route)
        if series is None:
            m = self.metrics
            series = self._series[route] = (m.ttft.labels(route=route), m.token_latency.labels(route=route),
                                            m.tokens.labels(route=route))  # fmt: skip
        ttft, between, tokens = series
        if self.count == 0:
            ttft.observe(now - self.start)
        else:
            between.observe(now - self.last)
        self.last = now
        self.count += 1
        tokens.inc()


def record_hops(gen: Generation, finish: Finish, clock: TokenClock) -> None:
    """This tier's hop, then the hops its upstream reported: the response's ``edgesplit.hops``."""
    settings = clock.node.settings
    route = gen.route
    score = route.score if route.score is not None else route.confidence
    here = Hop(
        tier=settings.tier,
        model=settings.served_model,
        route=route.route,
        rule=route.rule,
        score=score,
        fallback=route.fallback,
        latency_ms=round((time.perf_counter() - clock.start) * 1000, 1),
    )
    above = _valid_hops(finish.upstream_hops) if route.route != "edge" else []
    here.served = not above and route.route in ("edge", "cloud")  # split and speculative: both tiers worked
    route.hops = [here, *above]
    clock.metrics.served.labels(tier=_served_by(route.route, settings.tier, above)).inc()
    if route.route == "edge" and _had_personal_data(route.privacy):
        clock.metrics.personal_kept.inc()  # answered here, as finally served: none of it left


def _had_personal_data(privacy: dict[str, Any] | None) -> bool:
    """Did the request carry personal data: the detectors found some, or its policy keeps it here?"""
    if privacy is None or privacy.get("redacted"):
        return False  # no plan, or text was redacted and sent up (a cascade that climbed)
    return bool(privacy.get("found")) or privacy.get("action") in ("site-only", "local-only", "refuse")


def _served_by(route: str, tier: str, above: list[Hop]) -> str:
    """The tier that answered: this one, the one upstream that says so, ``upstream`` for a plain
    OpenAI-compatible server, or the route itself when two tiers worked together (split, speculative)."""
    if route == "edge":
        return tier
    if route != "cloud":
        return route
    return next((hop.tier for hop in above if hop.served), "upstream")


def _valid_hops(reported: tuple[dict[str, Any], ...]) -> list[Hop]:
    """The upstream's hops that parse; a malformed one is left out rather than failing the answer."""
    hops = []
    for hop in reported:
        with contextlib.suppress(ValidationError):
            hops.append(Hop.model_validate(hop))
    return hops


def count_route(node: Node, gen: Generation) -> None:
    node.metrics.routed.labels(route=gen.route.route, rule=gen.route.rule).inc()


async def collect(gen: Generation, builder: ResponseBuilder, on_token: TokenClock) -> dict[str, Any]:
    """The whole answer as one OpenAI response body."""
    tokens: list[TokenEvent] = []
    finish: Finish | None = None
    async for event in gen.events:
        if isinstance(event, Finish):
            finish = event
        else:
            on_token(gen.route.route)
            tokens.append(event)
    assert finish is not None, "a backend ended without Finish"
    record_hops(gen, finish, on_token)
    return builder.complete(tokens, finish, gen.route)


async def stream_sse(
    node: Node,
    request: Request,
    gen: Generation,
    builder: ResponseBuilder,
    include_usage: bool,
    on_token: TokenClock,
) -> AsyncIterator[bytes]:
    """The answer as SSE chunks; an error after the status line goes in-band, OpenAI style."""
    first = True
    span = open_span("respond", **{"edgesplit.route": gen.route.route, "edgesplit.stream": True})
    try:
        async for event in gen.events:
            if isinstance(event, Finish):
                record_hops(gen, event, on_token)
                yield sse(builder.final_chunk(event, gen.route))
                if include_usage:
                    yield sse(builder.usage_chunk(event))
                continue
            on_token(gen.route.route)
            yield sse(builder.chunk(event, first, gen.route if first else None))
            first = False
    except Exception as exc:  # the status line is gone: report in-band
        log_internal(exc, request)
        yield sse(bytes(map_error(exc).body).decode())
    finally:
        span.end()
        await gen.events.aclose()  # stops generation if the client left
    with stage("record"):
        count_route(node, gen)
    yield sse("[DONE]")
