"""Event-stream helpers of the edge's routes: hold, replay and resume a local stream; restore an upstream one."""

from __future__ import annotations

import logging
from dataclasses import replace

from edgesplit.errors import ModelError, UpstreamError
from edgesplit.generation import Finish, GenerationParams, Prompt, PromptState, TokenEvent
from edgesplit.llama.backend import LocalBackend
from edgesplit.privacy.restore import StreamRestorer
from edgesplit.request_flow import Events, primed
from edgesplit.routing.learned import LearnedDecision, LearnedRouter
from edgesplit.routing.scorer import PromptView
from edgesplit.schemas import RouteInfo
from edgesplit.tracing import open_span

__all__ = ["drain", "learned_info", "replay", "restoring", "resume", "score_while_evaluating"]

log = logging.getLogger(__name__)


async def score_while_evaluating(
    local: LocalBackend, router: LearnedRouter, prompt: Prompt, params: GenerationParams, text: str
) -> tuple[LearnedDecision, Events | None]:
    """Score the prompt's hidden state as the edge evaluates it; keep generating if it stays.

    Returns the decision and, when the edge keeps the request, its running stream. A request
    that goes to the cloud has cost the edge one prompt evaluation and nothing more.
    """
    decided: list[LearnedDecision] = []

    def gate(state: PromptState) -> bool:
        try:
            decided.append(router.by_score(PromptView(text, len(state.tokens), hidden=state.hidden)))
        except (ValueError, ModelError) as exc:
            decided.append(unscored(router, exc))
        return decided[0].route == "edge"

    events = await primed(local.stream(prompt, params, gate))  # the gate has run when the first event is out
    if decided and decided[0].route == "cloud":
        await events.aclose()
        return decided[0], None
    decision = decided[0] if decided else LearnedDecision("edge", "learned-kept", "answered before it was scored")
    return decision, events


def unscored(router: LearnedRouter, exc: Exception) -> LearnedDecision:
    """A router that cannot score must not fail the request: log it, keep the request on the edge."""
    log.error("router %s could not score a request: %s", router.version, exc)
    return LearnedDecision("edge", "learned-kept", f"router could not score: {exc}")


def learned_info(decision: LearnedDecision, router: LearnedRouter) -> RouteInfo:
    return RouteInfo(
        route=decision.route,
        rule=decision.rule,
        reason=decision.reason,
        score=decision.score,
        threshold=router.threshold if decision.score is not None else None,
        router=router.version,
    )


async def drain(events: Events) -> tuple[list[TokenEvent], Finish]:
    tokens: list[TokenEvent] = []
    async for event in events:
        if isinstance(event, Finish):
            return tokens, event
        tokens.append(event)
    raise UpstreamError("generation ended without a finish event")


async def replay(tokens: list[TokenEvent], finish: Finish) -> Events:
    for token in tokens:
        yield token
    yield finish


async def resume(held: list[TokenEvent | Finish], rest: Events) -> Events:
    try:
        for event in held:
            yield event
        if held and isinstance(held[-1], Finish):
            return
        async for event in rest:
            yield event
    finally:
        await rest.aclose()


async def restoring(events: Events, restorer: StreamRestorer) -> Events:
    """Placeholders in upstream text → original values, holding back only a possible partial placeholder.

    If the upstream breaks, what was held back is released before the error, so the edge's
    continuation starts from every character the upstream sent.
    """
    span = open_span("restore")
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
        span.end()
        await events.aclose()
