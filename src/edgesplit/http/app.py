"""The OpenAI-compatible HTTP surface shared by every node: routes, auth, and errors → HTTP.

``create_app`` only wires: the request path itself is :class:`~edgesplit.http.pipeline.RequestPipeline`
(admit → classify → dispatch → respond → record), the error mapping is :mod:`edgesplit.http.errors`,
and a node adds its tier's own routes (split and verify sessions, the split plan) through
``Node.add_routes``.
"""

from __future__ import annotations

import contextlib
import functools
import hmac
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse, PlainTextResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from edgesplit.errors import AuthError, InvalidRequest
from edgesplit.http.dashboard import DASHBOARD_PREFIX, add_dashboard_routes
from edgesplit.http.errors import error_response, log_internal, map_error
from edgesplit.http.jobs import add_job_routes
from edgesplit.http.node import Node
from edgesplit.http.pipeline import RequestPipeline
from edgesplit.http.stats import StatsHistory
from edgesplit.schemas import ChatCompletionRequest, CompletionRequest
from edgesplit.tracing import server_span, setup_tracing

__all__ = ["create_app", "error_response"]

_UNAUTHENTICATED_PATHS = ("/healthz", "/metrics")
_UNTRACED_PATHS = (*_UNAUTHENTICATED_PATHS, "/v1/stats", "/v1/link/probe")  # polled: no trace of their own
_MAX_PROBE_BYTES = 8 * 1024 * 1024


@functools.cache
def _probe_fill() -> bytes:
    """The probe's filler, made on the first probe (8 MiB: not at import)."""
    return bytes(range(256)) * (_MAX_PROBE_BYTES // 256)


def _dashboard_page(path: str) -> bool:
    """The dashboard's page and assets hold no data; /v1/stats, which they read, needs the token."""
    return path == DASHBOARD_PREFIX or path.startswith(DASHBOARD_PREFIX + "/")


def _check_auth(request: Request, token: str | None) -> None:
    path = request.url.path
    if token is None or path in _UNAUTHENTICATED_PATHS or _dashboard_page(path):
        return
    header = request.headers.get("authorization", "")
    scheme, _, presented = header.partition(" ")
    ok = scheme.lower() == "bearer" and hmac.compare_digest(presented.strip().encode(), token.encode())
    if not ok:
        raise AuthError("missing or invalid bearer token")


class Guard:
    """Auth, errors → HTTP and the request counter, as plain ASGI middleware.

    Starlette's ``@app.middleware("http")`` runs each request in an extra task and streams the
    body through a memory channel; measured with ``bench/gateway.py`` that costs the edge more than
    the privacy step does."""

    def __init__(self, app: ASGIApp, node: Node, token: str | None) -> None:
        self.app = app
        self.node = node
        self.token = token

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request = Request(scope)
        status = 500
        started = False

        async def send_noting_status(message: Message) -> None:
            nonlocal status, started
            if message["type"] == "http.response.start":
                status, started = message["status"], True
            await send(message)

        path = request.url.path
        traced = not (path in _UNTRACED_PATHS or _dashboard_page(path))
        span = (
            server_span("edgesplit.http", request.headers, **self._span_attributes(request))
            if traced
            else contextlib.nullcontext()
        )
        with span as current:
            try:
                _check_auth(request, self.token)
                await self.app(scope, receive, send_noting_status)
            except Exception as exc:
                log_internal(exc, request)
                if started:  # the status line is gone; nothing better to send
                    raise
                response = map_error(exc)
                status = response.status_code
                await response(scope, receive, send)
            finally:
                self.node.metrics.requests.labels(path=path, status=str(status)).inc()
                if current is not None:
                    current.set_attribute("http.response.status_code", status)

    def _span_attributes(self, request: Request) -> dict[str, Any]:
        settings = self.node.settings
        return {
            "http.request.method": request.method, "url.path": path_kind(request.url.path),
            "edgesplit.tier": settings.tier, "edgesplit.role": settings.role,
        }  # fmt: skip


def path_kind(path: str) -> str:
    """``path`` with its ids left out (``/v1/split/sessions/{id}``): span names and attributes stay few."""
    parts = [
        "{id}" if (len(part) > 3 and any(c.isdigit() for c in part)) or len(part) > 24 else part
        for part in path.split("/")
    ]  # "v1" stays
    return "/".join(parts)


def create_app(node: Node) -> FastAPI:
    """The ASGI app for a node: OpenAI routes, health, metrics, auth and error mapping."""

    setup_tracing(node.settings)
    history = StatsHistory(node)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await node.start()
        history.start()
        yield
        await history.stop()
        await node.aclose()

    app = FastAPI(title=f"edgesplit {node.settings.role}", docs_url=None, redoc_url=None, lifespan=lifespan)
    token = node.settings.api_token.get_secret_value() if node.settings.api_token else None

    app.add_middleware(Guard, node=node, token=token)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        return error_response(exc.status_code, str(exc.detail), "invalid_request_error")

    add_job_routes(app, node.outbox, node.results, node.restore_job)
    node.add_routes(app)
    _add_openai_routes(app, node, RequestPipeline(node))
    _add_node_routes(app, node)
    add_dashboard_routes(app, history)
    return app


def _add_openai_routes(app: FastAPI, node: Node, pipeline: RequestPipeline) -> None:
    @app.post("/v1/chat/completions")
    async def chat_completions(request: Request) -> Response:
        return await pipeline.run(request, ChatCompletionRequest)

    @app.post("/v1/completions")
    async def completions(request: Request) -> Response:
        return await pipeline.run(request, CompletionRequest)

    @app.get("/v1/models")
    async def models() -> dict[str, Any]:
        now = int(time.time())
        data = [{"id": mid, "object": "model", "created": now, "owned_by": "edgesplit"} for mid in node.model_ids()]
        return {"object": "list", "data": data}


def _add_node_routes(app: FastAPI, node: Node) -> None:
    @app.get("/v1/link/probe")
    async def link_probe(request: Request) -> Response:
        """``bytes`` bytes of filler, for a downstream tier to measure bandwidth (authenticated)."""
        size_text = request.query_params.get("bytes", "65536")
        if not size_text.isdigit() or not 1 <= int(size_text) <= _MAX_PROBE_BYTES:
            raise InvalidRequest(f"bytes must be an integer from 1 to {_MAX_PROBE_BYTES}", param="bytes")
        return Response(_probe_fill()[: int(size_text)], media_type="application/octet-stream")

    @app.get("/healthz")
    async def healthz() -> dict[str, Any]:
        return {"status": "ok", "role": node.settings.role, "model": node.settings.served_model}

    @app.get("/metrics")
    async def metrics() -> Response:
        return PlainTextResponse(node.metrics.render(), media_type="text/plain; version=0.0.4")
