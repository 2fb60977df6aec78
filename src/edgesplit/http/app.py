"""The OpenAI-compatible HTTP surface shared by every node: routes, with auth and errors → HTTP in the Guard.

``create_app`` only wires: the request path itself is :class:`~edgesplit.http.pipeline.RequestPipeline`
(admit → classify → dispatch → respond → record), the error mapping is :mod:`edgesplit.http.errors`,
and a node adds its tier's own routes (split and verify sessions, the split plan) through
``Node.add_routes``.
"""

from __future__ import annotations

import functools
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse, PlainTextResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from edgesplit.errors import InvalidRequest
from edgesplit.http.dashboard import add_dashboard_routes
from edgesplit.http.errors import error_response
from edgesplit.http.guard import Guard
from edgesplit.http.jobs import add_job_routes
from edgesplit.http.node import Node
from edgesplit.http.openapi import install_openapi, sse_response
from edgesplit.http.pipeline import RequestPipeline
from edgesplit.http.response_models import ChatCompletion, ChatCompletionChunk, Health, ModelList, TextCompletion
from edgesplit.http.stats import StatsHistory
from edgesplit.schemas import ChatCompletionRequest, CompletionRequest
from edgesplit.tracing import setup_tracing

__all__ = ["create_app", "error_response"]

_MAX_PROBE_BYTES = 8 * 1024 * 1024


@functools.cache
def _probe_fill() -> bytes:
    """The probe's filler, made on the first probe (8 MiB: not at import)."""
    return bytes(range(256)) * (_MAX_PROBE_BYTES // 256)


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
    app.add_middleware(Guard, node=node)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        # Starlette's own errors carry headers that belong in the answer (Allow on 405: RFC 9110)
        headers = dict(exc.headers) if exc.headers else None
        return error_response(exc.status_code, str(exc.detail), "invalid_request_error", headers=headers)

    add_job_routes(app, node.outbox, node.results, node.restore_job)
    node.add_routes(app)
    _add_openai_routes(app, node, RequestPipeline(node))
    _add_node_routes(app, node)
    add_dashboard_routes(app, history)
    install_openapi(app, node.model_ids())
    return app


def _add_openai_routes(app: FastAPI, node: Node, pipeline: RequestPipeline) -> None:
    @app.post(
        "/v1/chat/completions", openapi_extra=sse_response(ChatCompletionRequest, ChatCompletion, ChatCompletionChunk)
    )
    async def chat_completions(request: Request) -> Response:
        return await pipeline.run(request, ChatCompletionRequest)

    @app.post("/v1/completions", openapi_extra=sse_response(CompletionRequest, TextCompletion, TextCompletion))
    async def completions(request: Request) -> Response:
        return await pipeline.run(request, CompletionRequest)

    @app.get("/v1/models", response_model=ModelList)
    async def models() -> dict[str, Any]:
        now = int(time.time())
        data = [{"id": mid, "object": "model", "created": now, "owned_by": "edgesplit"} for mid in node.model_ids()]
        return {"object": "list", "data": data}


_BINARY: dict[int | str, dict[str, Any]] = {200: {"content": {"application/octet-stream": {}}, "description": "Filler"}}


def _add_node_routes(app: FastAPI, node: Node) -> None:
    @app.get("/v1/link/probe", response_class=Response, responses=_BINARY)
    async def link_probe(request: Request) -> Response:
        """``bytes`` bytes of filler, for a downstream tier to measure bandwidth (authenticated)."""
        size_text = request.query_params.get("bytes", "65536")
        if not size_text.isdigit() or not 1 <= int(size_text) <= _MAX_PROBE_BYTES:
            raise InvalidRequest(f"bytes must be an integer from 1 to {_MAX_PROBE_BYTES}", param="bytes")
        return Response(_probe_fill()[: int(size_text)], media_type="application/octet-stream")

    @app.get("/healthz", response_model=Health)
    async def healthz() -> dict[str, Any]:
        return {"status": "ok", "role": node.settings.role, "model": node.settings.served_model}

    @app.get("/metrics", response_class=PlainTextResponse)
    async def metrics() -> Response:
        return PlainTextResponse(node.metrics.render(), media_type="text/plain; version=0.0.4")
