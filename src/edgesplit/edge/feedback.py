"""FeedbackRecorder: the hard cases an edge saw, redacted, sent up in batches through the outbox.

Three kinds of candidate, each recorded only when the request's privacy plan lets it leave, and
only as the upstream would have seen it (placeholders, never values):

- ``escalated``: the router sent the request up (learned or cascade);
- ``marked_bad``: a user marked a local answer bad (``POST /v1/feedback`` or the ``feedback``
  option of a later request), with that answer, redacted;
- ``shadow``: a sample (``feedback_shadow_rate``) of requests kept local, with their answers, so
  the cloud can answer them too and measure what the router missed.

Candidates are queued in memory and stored as one outbox job per ``feedback_batch`` (or every
``feedback_flush_s``); the delivery worker posts them to the upstream's ``/v1/feedback/batch``
with the job's idempotency key, so each batch arrives exactly once.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
import uuid
from collections import OrderedDict
from collections.abc import AsyncGenerator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from edgesplit.background import run_in_background, stop_task
from edgesplit.generation import Finish, Prompt, TokenEvent
from edgesplit.request_flow import Generation

if TYPE_CHECKING:
    from edgesplit.config import Settings
    from edgesplit.edge.delivery import DeliveryWorker
    from edgesplit.edge.outbox import Outbox
    from edgesplit.privacy.redactor import PrivacyPlan, Redactor

__all__ = ["KEPT_RULES", "FeedbackHost", "FeedbackRecorder"]

log = logging.getLogger("edgesplit.edge.feedback")

ESCALATED_RULES = frozenset({"learned-escalated", "cascade-escalated"})
KEPT_RULES = frozenset({"learned-kept", "cascade-kept"})


@dataclass
class _Answered:
    """A local answer kept in memory for a while, so a user can still mark it bad."""

    plan: PrivacyPlan
    answer: str
    router: str | None
    score: float | None
    at: float = field(default_factory=time.time)


class FeedbackHost(Protocol):
    """What the recorder reads off its node (the EdgeNode), each time: a bundle swap may replace them."""

    @property
    def settings(self) -> Settings: ...

    @property
    def redactor(self) -> Redactor | None: ...

    @property
    def outbox(self) -> Outbox | None: ...

    @property
    def worker(self) -> DeliveryWorker | None: ...


class FeedbackRecorder:
    def __init__(
        self,
        node: FeedbackHost,
        shadow_rate: float,
        batch: int,
        flush_s: float,
        remember: int = 512,
        seed: int | None = None,
    ) -> None:
        self.node = node
        self.shadow_rate = shadow_rate
        self.batch = batch
        self.flush_s = flush_s
        self.remember = remember
        self.recorded: dict[str, int] = {}  # kind -> candidates recorded
        self._recent: OrderedDict[str, _Answered] = OrderedDict()
        self._pending: list[dict[str, Any]] = []
        self._random = random.Random(seed)
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        if self.flush_s > 0:
            self._task = asyncio.create_task(self._flush_loop(), name="edgesplit-feedback")

    async def stop(self) -> None:
        await stop_task(self._task)
        await self.flush()

    def observe(self, gen: Generation, plan: PrivacyPlan | None, response_id: str) -> Generation:
        """``gen`` with its events passed through; when it ends, it may become a candidate."""
        if plan is None or not plan.may_leave:
            return gen  # what may not leave is never a candidate
        return Generation(gen.route, self._watch(gen, plan, response_id))

    async def _watch(self, gen: Generation, plan: PrivacyPlan, response_id: str) -> AsyncGenerator[Any, None]:
        text: list[str] = []
        async for event in gen.events:
            if isinstance(event, TokenEvent):
                text.append(event.text)
            elif isinstance(event, Finish):
                try:
                    await self._on_answer(gen, plan, response_id, "".join(text))
                except Exception:  # noting a hard case must never cost the user the answer
                    log.exception("feedback: could not record a candidate")
            yield event

    async def _on_answer(self, gen: Generation, plan: PrivacyPlan, response_id: str, answer: str) -> None:
        route = gen.route
        if route.rule in ESCALATED_RULES:
            await self._record("escalated", plan, None, route.router, route.score)
        elif route.route == "edge" and route.rule in KEPT_RULES and not route.fallback:
            self._recent[response_id] = _Answered(plan, answer, route.router, route.score)
            while len(self._recent) > self.remember:
                self._recent.popitem(last=False)
            if self._random.random() < self.shadow_rate:
                await self._record("shadow", plan, answer, route.router, route.score)

    async def mark(self, response_id: str, rating: str) -> bool:
        """A user's verdict on a local answer; False when it is unknown here (or too old)."""
        answered = self._recent.get(response_id)
        if answered is None:
            return False
        if rating == "bad":
            del self._recent[response_id]
            await self._record("marked_bad", answered.plan, answered.answer, answered.router, answered.score)
        return True

    async def _record(
        self, kind: str, plan: PrivacyPlan, answer: str | None, router: str | None, score: float | None
    ) -> None:
        prompt = await plan.redacted_prompt_off_loop(background=True)  # redacted even under a site boundary
        candidate = {
            "id": f"fb_{uuid.uuid4().hex}",
            "kind": kind,
            "tier": self.node.settings.tier,
            "edge_model": self.node.settings.served_model,
            "router": router,
            "score": score,
            "messages": _messages(prompt),
            "answer": await run_in_background(self._redact_answer, plan, answer) if answer is not None else None,
            "at": time.time(),
        }
        self.recorded[kind] = self.recorded.get(kind, 0) + 1
        self._pending.append(candidate)
        if len(self._pending) >= self.batch:
            await self.flush()

    def _redact_answer(self, plan: PrivacyPlan, answer: str) -> str:
        """The answer with every value the detectors find replaced, by the conversation's placeholders."""
        from edgesplit.privacy.redactor import redact_text

        redactor = self.node.redactor
        if redactor is None:
            return answer
        return redact_text(answer, redactor.detector.detect(answer), plan.mapping)

    async def flush(self) -> None:
        """Store the queued candidates as one outbox job (durable before this returns)."""
        outbox = self.node.outbox
        if not self._pending or outbox is None:
            return
        batch, self._pending = self._pending, []
        await run_in_background(outbox.enqueue, "feedback", {"candidates": batch})
        if self.node.worker is not None:
            self.node.worker.wake()
        log.info("feedback: %d candidates queued for the upstream", len(batch))

    async def _flush_loop(self) -> None:
        while True:
            await asyncio.sleep(self.flush_s)
            try:
                await self.flush()
            except Exception:
                log.exception("feedback: could not store a batch; it is retried at the next flush")

    def stats(self) -> dict[str, Any]:
        return {"recorded": dict(self.recorded), "pending": len(self._pending), "remembered": len(self._recent)}


def _messages(prompt: Prompt) -> list[dict[str, str]]:
    if prompt.is_chat:
        return [{"role": role, "content": content} for role, content in prompt.messages]
    return [{"role": "user", "content": prompt.text or ""}]
