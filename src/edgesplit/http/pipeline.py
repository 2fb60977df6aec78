"""The request path of every node, as named stages.

    admit     read, size-check and validate the request (http/admit.py)     → 4xx + OpenAI error body
    preprocess  the node's pre-processors before routing: clean, extract (http/preprocess.py)
    classify  the privacy plan: what may leave, redaction on first use      → 403 for ``refuse``
    route     the tier asked for (model alias, header, body option; admit resolves it)
    dispatch  ``node.generate``: the node routes, falls back, restores (edge/node.py), or the
              request is deferred to the outbox (202 + job)
    learn     an escalated request, a sample of kept ones, a kept answer a user marks bad: noted,
              redacted, for the router's next fit (edge/feedback.py)
    respond   OpenAI JSON or SSE (http/respond.py)
    record    route counts, token timings; the privacy summary goes into the response

``RequestPipeline`` runs them for one node; ``create_app`` only wires its methods to routes.
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING, Any

from fastapi import Request, Response
from fastapi.responses import StreamingResponse

from edgesplit.errors import InvalidRequest
from edgesplit.http.admit import Admitted, OpenAIRequest, admit
from edgesplit.http.disconnect import until_disconnected
from edgesplit.http.jobs import accepted, run_idempotent, upstream_body
from edgesplit.http.node import apply_mark
from edgesplit.http.openai_format import FastJSONResponse, ResponseBuilder
from edgesplit.http.preprocess import preprocess, request_tags
from edgesplit.http.respond import TokenClock, collect, count_route, stream_sse
from edgesplit.request_flow import CloudPolicy, Generation
from edgesplit.routing.learned import RequestHints
from edgesplit.schemas import JobRecord
from edgesplit.tracing import stage

if TYPE_CHECKING:
    from edgesplit.http.node import Node
    from edgesplit.privacy.redactor import PrivacyPlan

__all__ = ["RequestPipeline"]


class RequestPipeline:
    """admit → classify → dispatch → respond → record, for one node."""

    def __init__(self, node: Node) -> None:
        self.node = node

    async def run(self, request: Request, model: type[OpenAIRequest]) -> Response:
        with stage("admit"):
            admitted = preprocess(await admit(self.node, request, model), self.node.preprocessors)
        with stage("classify") as span:
            plan = self.classify(request, admitted)  # may raise PolicyViolation (refuse)
            if plan is not None:
                span.set_attributes({"edgesplit.privacy.action": plan.action, "edgesplit.privacy.rule": plan.rule})
        if admitted.options.priority == "batch":
            if admitted.req.stream:
                raise InvalidRequest("batch requests are not streamed: poll GET /v1/jobs/{id}", param="stream")
            return accepted(await self.defer(admitted, plan))
        if admitted.options.feedback is not None and self.node.feedback is not None:
            await apply_mark(self.node.feedback, admitted.options.feedback)
        policy = self.cloud_policy(admitted, plan)
        key = request.headers.get("idempotency-key")
        if key is not None:
            return await self.run_once(key, admitted, policy)
        # a client that leaves before the first byte cancels its generation (http/disconnect.py)
        return await until_disconnected(request, self.answer(request, admitted, plan, policy), self.node.metrics)

    async def answer(
        self, request: Request, admitted: Admitted, plan: PrivacyPlan | None, policy: CloudPolicy
    ) -> Response:
        """dispatch → learn → respond: the generation, and its answer (whole, or a primed stream)."""
        clock = TokenClock(self.node)
        with stage("dispatch", **{"edgesplit.requested": admitted.route, "edgesplit.stream": admitted.req.stream}):
            gen = await self.node.generate(
                admitted.prompt, admitted.params, admitted.route, stream=admitted.req.stream, policy=policy
            )
        if isinstance(gen, JobRecord):
            return accepted(gen)
        if plan is not None:
            gen.route.privacy = plan.info()
            if plan.redacted:  # by type only: never a value
                for kind, n in plan.counts.items():
                    self.node.metrics.redacted.labels(type=kind).inc(n)
        gen.route.preprocessing = [a.info() for a in admitted.preprocessed] + gen.route.preprocessing
        builder = self._builder(admitted)
        if self.node.feedback is not None:  # learn: a hard case (or a kept answer a user may mark) is noted
            gen = self.node.feedback.observe(gen, plan, builder.id)
        return await self.respond(request, admitted, gen, clock, builder)

    def classify(self, request: Request, admitted: Admitted) -> PrivacyPlan | None:
        """The privacy plan: the cheap detectors now, NER only when text is about to leave."""
        redactor = self.node.redactor
        if redactor is None:
            return None
        options = admitted.options
        source = request.headers.get("x-edgesplit-source") or options.source
        conversation = request.headers.get("x-edgesplit-conversation") or options.conversation
        return redactor.plan(admitted.prompt, options.privacy, source, conversation)

    def cloud_policy(self, admitted: Admitted, plan: PrivacyPlan | None) -> CloudPolicy:
        """What the request lets the cloud see, and what it wants when the cloud cannot answer."""
        options = admitted.options
        return CloudPolicy(
            options.on_cloud_unavailable or "fallback",
            lambda: self.defer(admitted, plan),
            plan,
            RequestHints((*options.tags, *request_tags(admitted.preprocessed)), options.latency_budget_ms),
        )

    async def defer(self, admitted: Admitted, plan: PrivacyPlan | None) -> JobRecord:
        """Store the request (redacted, as the upstream will see it) for the cloud: 202 + job id."""
        if plan is not None and not plan.may_leave:
            raise InvalidRequest(
                f"privacy {plan.action} ({plan.rule}): this request may not be deferred to the cloud",
                param="x-edgesplit-priority",
                code="privacy_local_only",
            )
        sent = await plan.upstream_prompt_off_loop(background=True) if plan is not None else admitted.prompt
        body = upstream_body(admitted.req, self.node.settings.upstream_model, sent)
        if plan is not None and (plan.upstream_floor == "site-only" or plan.raw_to_site):
            body["edgesplit"] = {"privacy": plan.upstream_floor}  # the next tier must keep it (redact it): say so
        conversation = plan.conversation if plan else None
        return await self.node.defer(admitted.kind, body, admitted.options.callback_url, conversation)

    async def run_once(self, key: str, admitted: Admitted, policy: CloudPolicy) -> Response:
        """At most one run per ``Idempotency-Key`` (non-streamed requests on a node with a result store)."""
        results = self.node.results
        if results is None or admitted.req.stream:
            where = "on streamed requests" if results is not None else "by this node (use priority batch)"
            raise InvalidRequest(f"idempotency-key is not supported {where}", param="idempotency-key")
        builder = self._builder(admitted)
        if policy.on_unavailable == "defer":  # a delivery from a lower tier's outbox is deferred already
            policy = replace(policy, on_unavailable="fallback")

        async def run() -> dict[str, Any]:
            gen = await self.node.generate(admitted.prompt, admitted.params, admitted.route, False, policy)
            assert isinstance(gen, Generation), "an idempotent run is never deferred"
            return await collect(gen, builder, TokenClock(self.node))

        return await run_idempotent(results, key, admitted.raw, run)

    async def respond(
        self, request: Request, admitted: Admitted, gen: Generation, clock: TokenClock, builder: ResponseBuilder
    ) -> Response:
        if admitted.req.stream:
            options = admitted.req.stream_options
            body = stream_sse(self.node, request, gen, builder, bool(options and options.include_usage), clock)
            return StreamingResponse(body, media_type="text/event-stream", headers=gen.route.headers())
        with stage("respond", **{"edgesplit.route": gen.route.route}):
            payload = await collect(gen, builder, clock)
        with stage("record"):
            count_route(self.node, gen)
        return FastJSONResponse(payload, headers=gen.route.headers())

    def _builder(self, admitted: Admitted) -> ResponseBuilder:
        return ResponseBuilder(admitted.kind, admitted.req.model, logprobs=admitted.params.logprobs)
