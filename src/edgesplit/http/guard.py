"""The Guard in front of every route: auth, rate limits, errors → HTTP, the request counter, the span.

Plain ASGI middleware: Starlette's ``@app.middleware("http")`` runs each request in an extra task
and streams the body through a memory channel; measured with ``bench/gateway.py`` that costs the
edge more than the privacy step does.
"""

from __future__ import annotations

import contextlib
from typing import Any

from fastapi import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from edgesplit.errors import AuthError, RateLimited
from edgesplit.http.auth import TokenSet
from edgesplit.http.dashboard import DASHBOARD_PREFIX
from edgesplit.http.errors import RequestTooLarge, log_internal, map_error
from edgesplit.http.node import Node
from edgesplit.http.ratelimit import RateLimiter
from edgesplit.tracing import server_span

__all__ = ["ADMIN_PATHS", "Guard", "path_kind"]

_UNAUTHENTICATED_PATHS = ("/healthz", "/metrics")
ADMIN_PATHS = ("/v1/sync/pull", "/v1/sync/rollback")  # need admin_token, never the clients' api_token
_UNTRACED_PATHS = (*_UNAUTHENTICATED_PATHS, "/v1/stats", "/v1/link/probe")  # polled: no trace of their own


def _dashboard_page(path: str) -> bool:
    """The dashboard's page and assets hold no data; /v1/stats, which they read, needs the token."""
    return path == DASHBOARD_PREFIX or path.startswith(DASHBOARD_PREFIX + "/")


def _open(path: str) -> bool:
    """A path anyone may call, never rate-limited: health, metrics, the dashboard's page."""
    return path in _UNAUTHENTICATED_PATHS or _dashboard_page(path)


def _caller(request: Request, tokens: TokenSet | None, admin: TokenSet | None) -> str:
    """Who is calling: the presented token's client id, or the address on a node without tokens.

    Raises AuthError for a missing or wrong token on a path that needs one. An admin path takes
    only the admin token, on every node, loopback or not; with no ``admin_token`` it is off."""
    path = request.url.path
    if path in ADMIN_PATHS:
        if admin is None:
            raise AuthError(f"{path} is an admin route and this node has no admin_token; set one to use it")
        return "admin:" + _presented_client(request, admin, "admin token")
    if tokens is None or _open(path):
        return "address:" + (request.client.host if request.client else "unknown")
    return _presented_client(request, tokens, "bearer token")


def _presented_client(request: Request, tokens: TokenSet, what: str) -> str:
    header = request.headers.get("authorization", "")
    scheme, _, presented = header.partition(" ")
    client = tokens.client(presented.strip()) if scheme.lower() == "bearer" else None
    if client is None:
        raise AuthError(f"missing or invalid {what}")
    return client


class Guard:
    """Auth, per-client rate limits, errors → HTTP, the request counter and the server span."""

    def __init__(self, app: ASGIApp, node: Node) -> None:
        self.app = app
        self.node = node
        self.tokens = TokenSet.from_settings(node.settings)
        admin = node.settings.admin_token
        self.admin = TokenSet([admin.get_secret_value()]) if admin is not None else None
        rps = node.settings.rate_limit_rps
        self.limiter = RateLimiter(rps, node.settings.rate_limit_burst) if rps > 0 else None

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
                client = _caller(request, self.tokens, self.admin)
                receive = self._limited(request, receive)
                if self.limiter is not None and not _open(path):
                    try:
                        self.limiter.take(client)
                    except RateLimited:
                        self.node.metrics.rate_limited.inc()
                        raise
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

    def _limited(self, request: Request, receive: Receive) -> Receive:
        """``receive`` refusing a body past the route's limit (413), declared or streamed: every route,
        not only those that parse a body, so no handler reads an unbounded one."""
        settings = self.node.settings
        split = request.url.path.startswith("/v1/split/")
        limit = settings.split_max_frame_bytes if split else settings.max_body_bytes
        declared = request.headers.get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            raise RequestTooLarge(limit)
        seen = 0

        async def limited() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    raise RequestTooLarge(limit)
            return message

        return limited

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
