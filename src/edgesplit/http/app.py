"""The OpenAI-compatible HTTP surface shared by every node, and errors → HTTP in one place."""

from __future__ import annotations

import functools
import hmac
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any, TypeVar

from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse, PlainTextResponse, StreamingResponse
from pydantic import BaseModel, ValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException

from edgesplit.errors import (
    AuthError,
    EdgesplitError,
    IdempotencyConflict,
    InvalidRequest,
    LinkDown,
    NotFound,
    OutboxFull,
    PolicyViolation,
    PositionMismatch,
    QueueFull,
    UpstreamError,
    UpstreamTimeout,
)
from edgesplit.generation import Finish, GenerationParams, Prompt, TokenEvent
from edgesplit.http.jobs import accepted, add_job_routes, run_idempotent, upstream_body
from edgesplit.http.node import CloudPolicy, Generation, Node
from edgesplit.http.openai_format import ResponseBuilder, sse
from edgesplit.privacy.redactor import PrivacyPlan, Redactor
from edgesplit.routing.learned import RequestHints
from edgesplit.schemas import ChatCompletionRequest, CompletionRequest, EdgesplitOptions, JobRecord

__all__ = ["create_app", "error_response"]

log = logging.getLogger("edgesplit.http")

R = TypeVar("R", bound=BaseModel)
_UNAUTHENTICATED_PATHS = ("/healthz", "/metrics")
_MAX_PROBE_BYTES = 8 * 1024 * 1024


@functools.cache
def _probe_fill() -> bytes:
    """The probe's filler, made on the first probe (8 MiB: not at import)."""
    return bytes(range(256)) * (_MAX_PROBE_BYTES // 256)


def error_response(
    status: int,
    message: str,
    type_: str,
    param: str | None = None,
    code: str | None = None,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    """An OpenAI-style error: ``{"error": {"message", "type", "param", "code"}}``."""
    body = {"error": {"message": message, "type": type_, "param": param, "code": code}}
    return JSONResponse(body, status_code=status, headers=headers)


def _log_internal(exc: Exception, request: Request) -> None:
    """A bug, not a refusal: log it with its traceback (method and path only: bodies may hold PII)."""
    if not isinstance(exc, EdgesplitError):
        log.error("internal error on %s %s", request.method, request.url.path, exc_info=exc)


def _map_error(exc: Exception) -> JSONResponse:
    if isinstance(exc, _TooLarge):
        return error_response(413, str(exc), "invalid_request_error", None, exc.code)
    if isinstance(exc, PositionMismatch):
        return error_response(409, str(exc), "invalid_request_error", exc.param, exc.code)
    if isinstance(exc, IdempotencyConflict):
        status = 409 if exc.still_running else 422
        return error_response(status, str(exc), "invalid_request_error", exc.param, exc.code, {"retry-after": "1"})
    if isinstance(exc, NotFound):
        return error_response(404, str(exc), "invalid_request_error", exc.param, exc.code or "not_found")
    if isinstance(exc, OutboxFull):
        return error_response(507, str(exc), "server_error", None, "outbox_full", {"retry-after": "60"})
    if isinstance(exc, LinkDown):
        return error_response(503, str(exc), "upstream_error", None, "link_down", {"retry-after": "5"})
    if isinstance(exc, InvalidRequest):
        return error_response(400, str(exc), "invalid_request_error", exc.param, exc.code)
    if isinstance(exc, PolicyViolation):
        return error_response(403, str(exc), "permission_error", "edgesplit.privacy", "privacy_refused")
    if isinstance(exc, AuthError):
        return error_response(
            401, str(exc), "authentication_error", None, "invalid_api_key", {"www-authenticate": "Bearer"}
        )
    if isinstance(exc, QueueFull):
        return error_response(
            429, str(exc), "rate_limit_error", None, "queue_full", {"retry-after": str(exc.retry_after_s)}
        )
    if isinstance(exc, UpstreamTimeout):
        return error_response(504, str(exc), "upstream_error", None, "upstream_timeout")
    if isinstance(exc, UpstreamError):
        status = exc.status_code if exc.status_code and 400 <= exc.status_code < 500 else 502
        return error_response(status, str(exc), "upstream_error", None, "upstream_error")
    if isinstance(exc, EdgesplitError):
        return error_response(500, str(exc), "server_error", None, type(exc).__name__)
    return error_response(500, "internal error; see the node's log", "server_error", None, "internal_error")


def _parse(model: type[R], raw: bytes) -> R:
    try:
        return model.model_validate_json(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        param = ".".join(str(p) for p in first["loc"]) or None
        if first["type"] == "json_invalid":
            raise InvalidRequest(f"malformed JSON body: {first['msg']}", code="invalid_json") from None
        if first["type"] == "extra_forbidden":
            raise InvalidRequest(f"unsupported parameter: {param}", param=param, code="unsupported_parameter") from None
        raise InvalidRequest(f"invalid value for {param}: {first['msg']}", param=param) from None


async def _read_body(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise _TooLarge(limit)
    body = bytearray()
    async for part in request.stream():
        body.extend(part)
        if len(body) > limit:
            raise _TooLarge(limit)
    return bytes(body)


class _TooLarge(InvalidRequest):
    def __init__(self, limit: int) -> None:
        super().__init__(f"request body exceeds {limit} bytes", code="request_too_large")


def _check_auth(request: Request, token: str | None) -> None:
    if token is None or request.url.path in _UNAUTHENTICATED_PATHS:
        return
    header = request.headers.get("authorization", "")
    scheme, _, presented = header.partition(" ")
    ok = scheme.lower() == "bearer" and hmac.compare_digest(presented.strip().encode(), token.encode())
    if not ok:
        raise AuthError("missing or invalid bearer token")


def _params(node: Node, req: ChatCompletionRequest | CompletionRequest, options: EdgesplitOptions) -> GenerationParams:
    requested = req.requested_max_tokens()
    limit = node.settings.max_tokens_limit
    if requested is not None and requested > limit:
        raise InvalidRequest(f"max_tokens must be at most {limit}, got {requested}", param="max_tokens")
    if isinstance(req, ChatCompletionRequest):
        logprobs, top = req.logprobs, (req.top_logprobs or 0)
        if top and not logprobs:
            raise InvalidRequest("top_logprobs requires logprobs: true", param="top_logprobs")
    else:
        logprobs, top = req.logprobs is not None, (req.logprobs or 0)
    return GenerationParams(
        max_tokens=requested or node.settings.default_max_tokens,
        max_tokens_explicit=requested is not None,
        temperature=req.temperature,
        top_p=req.top_p,
        seed=req.seed,
        stop=tuple(req.stop_list()),
        presence_penalty=req.presence_penalty,
        frequency_penalty=req.frequency_penalty,
        logprobs=logprobs,
        top_logprobs=top,
        skip_threshold=_skip_threshold(node, options),
    )


def _skip_threshold(node: Node, options: EdgesplitOptions) -> float | None:
    """The speculative uncertainty-skip threshold a request asks for (``true``: the configured one)."""
    skip = options.speculative_skip
    if skip is None or skip is False:
        return None
    return node.settings.speculative_skip_threshold if skip is True else float(skip)


def _options(request: Request, req: ChatCompletionRequest | CompletionRequest) -> EdgesplitOptions:
    """Body options, with the ``x-edgesplit-priority``, ``-on-cloud-unavailable`` and ``-privacy`` headers on top."""
    options = req.edgesplit or EdgesplitOptions()
    updates: dict[str, str] = {}
    for header, field, allowed in (
        ("x-edgesplit-priority", "priority", ("interactive", "batch")),
        ("x-edgesplit-on-cloud-unavailable", "on_cloud_unavailable", ("fallback", "defer", "error")),
        ("x-edgesplit-privacy", "privacy", ("allow", "redact", "local-only", "refuse")),
    ):
        value = request.headers.get(header)
        if value is None:
            continue
        if value.strip().lower() not in allowed:
            raise InvalidRequest(f"{header} must be one of {', '.join(allowed)}, got {value!r}", param=header)
        updates[field] = value.strip().lower()
    return options.model_copy(update=updates) if updates else options


def _prompt_of(req: ChatCompletionRequest | CompletionRequest) -> Prompt:
    return _chat_prompt(req) if isinstance(req, ChatCompletionRequest) else _completion_prompt(req)


def _chat_prompt(req: ChatCompletionRequest) -> Prompt:
    messages = tuple(("system" if m.role == "developer" else m.role, m.text()) for m in req.messages)
    if all(not content.strip() for _, content in messages):
        raise InvalidRequest("messages: every message is empty", param="messages", code="empty_messages")
    return Prompt(messages=messages)


def _completion_prompt(req: CompletionRequest) -> Prompt:
    if not req.prompt_text().strip():
        raise InvalidRequest("prompt is empty", param="prompt", code="empty_prompt")
    return Prompt(text=req.prompt_text())


def _count_route(node: Node, gen: Generation) -> None:
    node.metrics.routed.labels(route=gen.route.route, rule=gen.route.rule).inc()


async def _collect(gen: Generation, builder: ResponseBuilder, on_token: Callable[[str], None]) -> dict[str, Any]:
    tokens: list[TokenEvent] = []
    finish: Finish | None = None
    async for event in gen.events:
        if isinstance(event, Finish):
            finish = event
        else:
            on_token(gen.route.route)
            tokens.append(event)
    assert finish is not None, "a backend ended without Finish"
    return builder.complete(tokens, finish, gen.route)


async def _stream(
    node: Node,
    request: Request,
    gen: Generation,
    builder: ResponseBuilder,
    include_usage: bool,
    on_token: Callable[[str], None],
) -> AsyncIterator[bytes]:
    first = True
    try:
        async for event in gen.events:
            if isinstance(event, Finish):
                yield sse(builder.final_chunk(event, gen.route))
                if include_usage:
                    yield sse(builder.usage_chunk(event))
                continue
            on_token(gen.route.route)
            yield sse(builder.chunk(event, first, gen.route if first else None))
            first = False
    except Exception as exc:  # the status line is gone: report in-band, OpenAI style
        _log_internal(exc, request)
        yield sse(bytes(_map_error(exc).body).decode())
    finally:
        await gen.events.aclose()  # type: ignore[attr-defined]  # stops generation if the client left
    _count_route(node, gen)
    yield sse("[DONE]")


class _TokenClock:
    """Feeds the time-to-first-token and inter-token histograms for one request."""

    def __init__(self, node: Node) -> None:
        self.metrics = node.metrics
        self.start = self.last = time.perf_counter()
        self.count = 0

    def __call__(self, route: str) -> None:
        now = time.perf_counter()
        if self.count == 0:
            self.metrics.ttft.labels(route=route).observe(now - self.start)
        else:
            self.metrics.token_latency.labels(route=route).observe(now - self.last)
        self.last = now
        self.count += 1
        self.metrics.tokens.labels(route=route).inc()


def create_app(node: Node) -> FastAPI:
    """The ASGI app for a node: OpenAI routes, health, metrics, auth and error mapping."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await node.start()
        yield
        await node.aclose()

    app = FastAPI(title=f"edgesplit {node.settings.role}", docs_url=None, redoc_url=None, lifespan=lifespan)
    token = node.settings.api_token.get_secret_value() if node.settings.api_token else None

    @app.middleware("http")
    async def guard(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        try:
            _check_auth(request, token)
            response = await call_next(request)
        except Exception as exc:
            _log_internal(exc, request)
            response = _map_error(exc)
        node.metrics.requests.labels(path=request.url.path, status=str(response.status_code)).inc()
        return response

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        return error_response(exc.status_code, str(exc.detail), "invalid_request_error")

    outbox, results = getattr(node, "outbox", None), getattr(node, "results", None)
    redactor: Redactor | None = getattr(node, "redactor", None)
    add_job_routes(app, outbox, results, getattr(node, "restore_job", lambda job: job))
    split_store = getattr(node, "split_sessions", None)
    if getattr(node, "replanner", "absent") != "absent":

        @app.get("/v1/split/plan")
        async def split_plan() -> dict[str, Any]:
            """The edge's current split plan (re-planned now if the link moved)."""
            replanner = getattr(node, "replanner", None)
            if replanner is None:
                raise InvalidRequest(
                    "no split planner: needs split_model, an upstream and link probes", code="no_planner"
                )
            await replanner.maybe_replan()
            result: dict[str, Any] = replanner.describe()
            return result

    verifier = getattr(node, "verifier", None)
    if verifier is not None:
        from edgesplit.cloud.verify_api import add_speculative_routes

        add_speculative_routes(app, verifier, node.settings.default_max_tokens)
    if split_store is not None:
        from edgesplit.cloud.split_api import add_split_routes
        from edgesplit.models import locate_model

        path = str(locate_model(split_store.model_name))
        add_split_routes(app, split_store, node.settings.split_max_frame_bytes, path)

    async def enqueue(
        req: ChatCompletionRequest | CompletionRequest, kind: str, options: EdgesplitOptions, plan: PrivacyPlan | None
    ) -> JobRecord:
        defer = getattr(node, "defer", None)
        if defer is None:
            raise InvalidRequest("this node has no outbox to defer requests to", code="no_outbox")
        if plan is not None and not plan.may_leave:
            raise InvalidRequest(
                f"privacy {plan.action} ({plan.rule}): this request may not be deferred to the cloud",
                param="x-edgesplit-priority",
                code="privacy_local_only",
            )
        sent = await plan.upstream_prompt_off_loop(background=True) if plan is not None else None
        body = upstream_body(req, node.settings.upstream_model, sent or _prompt_of(req))
        job: JobRecord = await defer(kind, body, options.callback_url, plan.conversation if plan else None)
        return job

    def classify(request: Request, prompt: Prompt, options: EdgesplitOptions) -> PrivacyPlan | None:
        if redactor is None:
            return None
        source = request.headers.get("x-edgesplit-source") or options.source
        conversation = request.headers.get("x-edgesplit-conversation") or options.conversation
        return redactor.plan(prompt, options.privacy, source, conversation)

    async def serve(
        request: Request, raw: bytes, req: ChatCompletionRequest | CompletionRequest, prompt: Prompt
    ) -> Response:
        options = _options(request, req)
        route = node.resolve(req.model, request.headers.get("x-edgesplit-route"), options.route)
        params = _params(node, req, options)
        kind = "chat" if prompt.is_chat else "text"
        plan = classify(request, prompt, options)  # may raise PolicyViolation (refuse)
        if options.priority == "batch":
            if req.stream:
                raise InvalidRequest("batch requests are not streamed: poll GET /v1/jobs/{id}", param="stream")
            return accepted(await enqueue(req, kind, options, plan))
        policy = CloudPolicy(
            options.on_cloud_unavailable or "fallback",
            lambda: enqueue(req, kind, options, plan),
            plan,
            RequestHints(tuple(options.tags), options.latency_budget_ms),
        )
        builder = ResponseBuilder(kind, req.model, logprobs=params.logprobs)  # type: ignore[arg-type]
        key = request.headers.get("idempotency-key")
        if key is not None:
            if results is None or req.stream:
                where = "on streamed requests" if results is not None else "by this node (use priority batch)"
                raise InvalidRequest(f"idempotency-key is not supported {where}", param="idempotency-key")

            async def run() -> dict[str, Any]:
                gen = await node.generate(prompt, params, route, stream=False, policy=policy)
                assert isinstance(gen, Generation), "a node with a result store does not defer"
                return await _collect(gen, builder, _TokenClock(node))

            return await run_idempotent(results, key, raw, run)
        clock = _TokenClock(node)
        gen = await node.generate(prompt, params, route, stream=req.stream, policy=policy)
        if isinstance(gen, JobRecord):
            return accepted(gen)
        if plan is not None:
            gen.route.privacy = plan.info()
        if req.stream:
            include_usage = bool(req.stream_options and req.stream_options.include_usage)
            body = _stream(node, request, gen, builder, include_usage, clock)
            return StreamingResponse(body, media_type="text/event-stream", headers=gen.route.headers())
        payload = await _collect(gen, builder, clock)
        _count_route(node, gen)
        return JSONResponse(payload, headers=gen.route.headers())

    @app.post("/v1/chat/completions")
    async def chat_completions(request: Request) -> Response:
        raw = await _read_body(request, node.settings.max_body_bytes)
        req = _parse(ChatCompletionRequest, raw)
        return await serve(request, raw, req, _chat_prompt(req))

    @app.post("/v1/completions")
    async def completions(request: Request) -> Response:
        raw = await _read_body(request, node.settings.max_body_bytes)
        req = _parse(CompletionRequest, raw)
        return await serve(request, raw, req, _completion_prompt(req))

    @app.get("/v1/models")
    async def models() -> dict[str, Any]:
        now = int(time.time())
        data = [{"id": mid, "object": "model", "created": now, "owned_by": "edgesplit"} for mid in node.model_ids()]
        return {"object": "list", "data": data}

    @app.get("/v1/link/probe")
    async def link_probe(request: Request) -> Response:
        """``bytes`` bytes of filler, for a downstream tier to measure bandwidth (authenticated)."""
        size_text = request.query_params.get("bytes", "65536")
        if not size_text.isdigit() or not 1 <= int(size_text) <= _MAX_PROBE_BYTES:
            raise InvalidRequest(f"bytes must be an integer from 1 to {_MAX_PROBE_BYTES}", param="bytes")
        return Response(_probe_fill()[: int(size_text)], media_type="application/octet-stream")

    @app.get("/healthz")
    async def healthz() -> dict[str, Any]:
        return {"status": "ok", "role": node.settings.role, "model": node.settings.model}

    @app.get("/metrics")
    async def metrics() -> Response:
        return PlainTextResponse(node.metrics.render(), media_type="text/plain; version=0.0.4")

    return app
