"""Errors → HTTP in one place: every exception a request can raise becomes an OpenAI-style error body.

Refusals (the :mod:`edgesplit.errors` tree) map to their status; anything else is a bug: it is
logged with its traceback (method and path only: bodies may hold PII) and answers 500.
"""

from __future__ import annotations

import logging

from fastapi import Request
from fastapi.responses import JSONResponse

from edgesplit.errors import (
    AuthError,
    BundleRejected,
    Busy,
    EdgesplitError,
    IdempotencyConflict,
    InvalidRequest,
    LinkDown,
    NotFound,
    OutboxFull,
    PolicyViolation,
    PositionMismatch,
    QueueFull,
    RateLimited,
    UpstreamError,
    UpstreamTimeout,
)

__all__ = ["RequestTooLarge", "error_response", "log_internal", "map_error"]

log = logging.getLogger("edgesplit.http")


class RequestTooLarge(InvalidRequest):
    """The body is over ``max_body_bytes`` (HTTP 413)."""

    def __init__(self, limit: int) -> None:
        super().__init__(f"request body exceeds {limit} bytes", code="request_too_large")


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


def log_internal(exc: Exception, request: Request) -> None:
    """A bug, not a refusal: log it with its traceback (method and path only: bodies may hold PII)."""
    if not isinstance(exc, EdgesplitError):
        log.error("internal error on %s %s", request.method, request.url.path, exc_info=exc)


def map_error(exc: Exception) -> JSONResponse:
    """The HTTP answer for ``exc``: the most specific class of the error tree first."""
    if isinstance(exc, RequestTooLarge):
        return error_response(413, str(exc), "invalid_request_error", None, exc.code)
    if isinstance(exc, PositionMismatch):
        return error_response(409, str(exc), "invalid_request_error", exc.param, exc.code)
    if isinstance(exc, IdempotencyConflict):
        status = 409 if exc.still_running else 422
        return error_response(status, str(exc), "invalid_request_error", exc.param, exc.code, {"retry-after": "1"})
    if isinstance(exc, Busy):
        return error_response(409, str(exc), "invalid_request_error", None, exc.code or "busy", {"retry-after": "5"})
    if isinstance(exc, NotFound):
        return error_response(404, str(exc), "invalid_request_error", exc.param, exc.code or "not_found")
    if isinstance(exc, OutboxFull):
        return error_response(507, str(exc), "server_error", None, "outbox_full", {"retry-after": "60"})
    if isinstance(exc, LinkDown):
        return error_response(503, str(exc), "upstream_error", None, "link_down", {"retry-after": "5"})
    if isinstance(exc, BundleRejected):
        return error_response(409, str(exc), "invalid_request_error", exc.reason, "bundle_rejected")
    if isinstance(exc, InvalidRequest):
        return error_response(400, str(exc), "invalid_request_error", exc.param, exc.code)
    if isinstance(exc, PolicyViolation):
        return error_response(403, str(exc), "permission_error", "edgesplit.privacy", "privacy_refused")
    if isinstance(exc, AuthError):
        return error_response(
            401, str(exc), "authentication_error", None, "invalid_api_key", {"www-authenticate": "Bearer"}
        )
    if isinstance(exc, QueueFull):
        code = "rate_limited" if isinstance(exc, RateLimited) else "queue_full"
        return error_response(429, str(exc), "rate_limit_error", None, code, {"retry-after": str(exc.retry_after_s)})
    if isinstance(exc, UpstreamTimeout):
        return error_response(504, str(exc), "upstream_error", None, "upstream_timeout")
    if isinstance(exc, UpstreamError):
        status = exc.status_code if exc.status_code and 400 <= exc.status_code < 500 else 502
        return error_response(status, str(exc), "upstream_error", None, "upstream_error")
    if isinstance(exc, EdgesplitError):
        return error_response(500, str(exc), "server_error", None, type(exc).__name__)
    return error_response(500, "internal error; see the node's log", "server_error", None, "internal_error")
