"""The edgesplit exception tree.

    EdgesplitError
    ├── ConfigError            bad or missing setting (names the key)
    ├── ModelError             model file missing, unknown model name
    │   └── IntegrityError     a model file failed its sha256 check
    ├── InvalidRequest         a client request that cannot be served (HTTP 400)
    │   ├── PositionMismatch   a split frame for other positions than the session expects (HTTP 409)
    │   ├── IdempotencyConflict the key is in use by a running or a different request (HTTP 409 / 422)
    │   ├── Busy               another operation holds what this one needs; try again (HTTP 409)
    │   ├── NotFound           no such job / result (HTTP 404)
    │   │   └── UnknownModel   the requested model alias is not served here (HTTP 404)
    │   └── ContextOverflow    prompt + max_tokens exceed the context window (HTTP 400)
    ├── AuthError              missing or wrong bearer token (HTTP 401)
    ├── PolicyViolation        the privacy policy refuses the request; names the rule (HTTP 403)
    ├── QueueFull              the model's queue is full; carries retry_after_s (HTTP 429)
    │   └── RateLimited        this client is over its request rate (HTTP 429)
    ├── OutboxFull             the edge's outbox is at its row or byte limit (HTTP 507)
    ├── BundleRejected         a sync bundle failed verification or its smoke test; names the reason (HTTP 409)
    └── UpstreamError          the next tier failed: unreachable, timed out, or answered an error
        ├── UpstreamTimeout    the upstream did not answer within the configured timeout
        └── LinkDown           the circuit breaker is open: the call was not attempted

HTTP handlers map these to OpenAI-style error bodies in one place (``http/app.py``).
"""

from __future__ import annotations

__all__ = [
    "AuthError",
    "BundleRejected",
    "Busy",
    "ConfigError",
    "ContextOverflow",
    "EdgesplitError",
    "IdempotencyConflict",
    "IntegrityError",
    "InvalidRequest",
    "LinkDown",
    "ModelError",
    "NotFound",
    "OutboxFull",
    "PolicyViolation",
    "PositionMismatch",
    "QueueFull",
    "RateLimited",
    "UnknownModel",
    "UpstreamError",
    "UpstreamTimeout",
]


class EdgesplitError(Exception):
    """Root of every error edgesplit raises on purpose."""


class ConfigError(EdgesplitError):
    """A setting is missing or invalid; the message names the key."""


class ModelError(EdgesplitError):
    """A model cannot be located, assembled or loaded."""


class IntegrityError(ModelError):
    """A file's sha256 does not match the recorded digest."""


class InvalidRequest(EdgesplitError):
    """A request that is well-formed JSON but cannot be served."""

    def __init__(self, message: str, param: str | None = None, code: str | None = None) -> None:
        super().__init__(message)
        self.param = param
        self.code = code


class NotFound(InvalidRequest):
    """The addressed job, result or model does not exist here."""


class UnknownModel(NotFound):
    """The requested model alias is not served by this node."""


class ContextOverflow(InvalidRequest):
    """Prompt tokens plus max_tokens do not fit the model's context window."""


class IdempotencyConflict(InvalidRequest):
    """The key is in use: by a request still running, or by a different request."""

    def __init__(self, message: str, still_running: bool) -> None:
        super().__init__(message, param="idempotency-key", code="idempotency_conflict")
        self.still_running = still_running


class OutboxFull(EdgesplitError):
    """The outbox is at its row or byte limit; the request was not stored."""


class BundleRejected(EdgesplitError):
    """A sync bundle was refused and the node kept serving its current one; ``reason`` says why:
    corrupt, bad_signature, expired, rollback, download, unavailable, slow, disk_full, invalid, smoke."""

    def __init__(self, message: str, reason: str) -> None:
        super().__init__(message)
        self.reason = reason


class Busy(InvalidRequest):
    """Another operation (a sync pull, say) holds what this one needs; it was not started."""


class AuthError(EdgesplitError):
    """The caller's bearer token is missing or wrong."""


class QueueFull(EdgesplitError):
    """The model's wait queue is full; the client should retry after ``retry_after_s``."""

    def __init__(self, message: str, retry_after_s: int) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s


class RateLimited(QueueFull):
    """This client sent more requests than its token bucket allows; retry after ``retry_after_s``."""


class UpstreamError(EdgesplitError):
    """The upstream tier failed (connection refused, HTTP error, broken stream)."""

    def __init__(self, message: str, status_code: int | None = None) -> None:
        super().__init__(message)
        self.status_code = status_code


class UpstreamTimeout(UpstreamError):
    """The upstream tier did not answer within the configured timeout."""


class LinkDown(UpstreamError):
    """The link's circuit breaker is open; the upstream was not called."""


class PolicyViolation(EdgesplitError):
    """The privacy policy refuses this request; ``rule`` names the rule that did."""

    def __init__(self, message: str, rule: str) -> None:
        super().__init__(message)
        self.rule = rule


class PositionMismatch(InvalidRequest):
    """A split frame for other positions than the session expects (a lost or repeated request)."""

    def __init__(self, expected: int, got: int) -> None:
        super().__init__(
            f"frame starts at position {got}; the session expects {expected}", param="frame", code="position_mismatch"
        )
        self.expected = expected
