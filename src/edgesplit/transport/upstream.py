"""UpstreamClient: the one HTTP client an edge keeps for the tier above it.

Everything the edge sends upstream goes through it: full generation (``RemoteBackend``),
split and verify sessions (``RemoteSegment``, ``RemoteVerifier``), the link prober, the
outbox's delivery worker and the split planner. They share one connection pool, one bearer
token and one mapping of transport failures onto the error tree:

- no answer within the timeout: :class:`~edgesplit.errors.UpstreamTimeout`;
- refused, reset or broken: :class:`~edgesplit.errors.UpstreamError` with ``status_code=None``;
- with :meth:`call`, a 404 about a session: :class:`SessionGone`; any other 4xx/5xx an
  :class:`~edgesplit.errors.UpstreamError` carrying the status.

Whether an outcome counts against the link is :func:`~edgesplit.transport.link.counts_against_link`'s
decision alone. ``transport=`` takes any ``httpx.AsyncBaseTransport``, so tests can put an
in-process ``httpx.MockTransport`` or ``httpx.ASGITransport`` where the network would be.
"""

from __future__ import annotations

import contextlib
import ssl
import time
from dataclasses import dataclass
from typing import Any

import httpx
import orjson

from edgesplit.errors import UpstreamError, UpstreamTimeout
from edgesplit.tracing import inject_traceparent

__all__ = ["LinkSample", "SessionGone", "UpstreamClient", "bearer_headers", "error_message"]

_MAX_CONNECTIONS = 256  # the upstream's own admission control bounds the load, not the pool


def bearer_headers(token: str | None) -> dict[str, str]:
    """``{"authorization": "Bearer <token>"}``, or no header when no token is configured."""
    return {"authorization": f"Bearer {token}"} if token else {}


class SessionGone(UpstreamError):
    """The upstream no longer knows the session (expired, or the node restarted): open a new one."""


@dataclass(frozen=True)
class LinkSample:
    """One active measurement: the round trip of ``GET /healthz`` and the probe download's rate."""

    rtt_ms: float
    bandwidth_mbps: float


class UpstreamClient:
    """Authenticated HTTP under ``base_url``; ``timeout_s`` is the default per-call limit."""

    def __init__(
        self,
        base_url: str,
        token: str | None,
        timeout_s: float,
        transport: httpx.AsyncBaseTransport | None = None,
        verify: ssl.SSLContext | bool = True,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout_s = timeout_s
        self._client = httpx.AsyncClient(
            base_url=self.base_url,
            headers=bearer_headers(token),
            timeout=httpx.Timeout(timeout_s),
            limits=httpx.Limits(max_connections=_MAX_CONNECTIONS, max_keepalive_connections=32),
            transport=transport,
            verify=verify,  # the upstream's certificate must chain to upstream_ca (transport/tls.py)
            event_hooks={"request": [inject_traceparent]},  # one trace across tiers (edgesplit/tracing.py)
        )

    async def request(
        self, method: str, path: str, *, what: str = "upstream", timeout: float | None = None, **kwargs: Any
    ) -> httpx.Response:
        """One call, whatever status comes back; only a missing answer raises."""
        limit = self.timeout_s if timeout is None else timeout
        try:
            return await self._client.request(method, path, timeout=httpx.Timeout(limit), **kwargs)
        except httpx.TimeoutException:
            raise UpstreamTimeout(f"{what} gave no answer within {limit:g} s") from None
        except httpx.HTTPError as exc:
            raise UpstreamError(f"{what} unreachable: {type(exc).__name__}: {exc}") from None

    async def call(
        self, method: str, path: str, *, what: str = "upstream", timeout: float | None = None, **kwargs: Any
    ) -> httpx.Response:
        """One call that must succeed: a 4xx/5xx raises with its status."""
        response = await self.request(method, path, what=what, timeout=timeout, **kwargs)
        if response.status_code == 404 and "session_not_found" in response.text:
            raise SessionGone(f"{what} session expired upstream", status_code=404)
        if response.status_code >= 400:
            raise UpstreamError(
                f"{what} answered {response.status_code}: {error_message(response)}", status_code=response.status_code
            )
        return response

    async def close_session(self, path: str, what: str = "upstream", headers: dict[str, str] | None = None) -> None:
        """``DELETE`` a session; a failure is ignored, since its expiry frees it anyway."""
        with contextlib.suppress(UpstreamError):
            await self.call("DELETE", path, what=what, headers=headers)

    async def open_stream(
        self, path: str, body: dict[str, Any], headers: dict[str, str] | None = None
    ) -> httpx.Response:
        """``POST`` and return the response with its body unread (the caller reads and closes it).

        Raises ``httpx`` errors as they are, so the caller can apply its own first-token deadline."""
        headers = {"content-type": "application/json", **(headers or {})}
        return await self.send_streaming("POST", path, headers, content=orjson.dumps(body))

    async def send_streaming(
        self, method: str, path: str, headers: dict[str, str] | None = None, **kwargs: Any
    ) -> httpx.Response:
        """Any request, returned with its body unread; ``httpx`` errors are raised as they are."""
        request = self._client.build_request(method, path, headers=headers, **kwargs)
        return await self._client.send(request, stream=True)

    async def measure(self, probe_bytes: int) -> LinkSample:
        """Time ``GET /healthz`` (round trip) and a ``probe_bytes`` download (bandwidth).

        The download's own round trip is taken off its time, so what is left is transfer."""
        start = time.perf_counter()
        await self.call("GET", "/healthz", what="link probe")
        rtt_s = time.perf_counter() - start
        start = time.perf_counter()
        response = await self.call("GET", "/v1/link/probe", what="link probe", params={"bytes": probe_bytes})
        transfer_s = max(time.perf_counter() - start - rtt_s, 1e-4)
        return LinkSample(rtt_s * 1000, len(response.content) * 8 / transfer_s / 1e6)

    async def ping(self, path: str) -> float:
        """Time one ``GET path`` that must succeed (a plain OpenAI-compatible server's health check), in ms."""
        start = time.perf_counter()
        await self.call("GET", path, what="health check")
        return (time.perf_counter() - start) * 1000

    async def aclose(self) -> None:
        await self._client.aclose()


def error_message(response: httpx.Response) -> str:
    """The upstream's OpenAI-style ``error.message``, else the start of its body."""
    try:
        return str(response.json()["error"]["message"])
    except (ValueError, KeyError, TypeError):
        return response.text[:200]
