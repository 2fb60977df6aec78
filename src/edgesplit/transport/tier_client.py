"""TierClient: authenticated JSON calls to a session API on the upstream tier (split, speculative).

One place maps transport failures to the error tree: a timeout is :class:`UpstreamTimeout`, a
refused or broken connection :class:`UpstreamError`, a 404 about the session
:class:`SessionGone` (the edge opens a new session and re-sends what it needs), any other 4xx/5xx
an :class:`UpstreamError` carrying the status.
"""

from __future__ import annotations

import contextlib
from typing import Any

import httpx

from edgesplit.errors import UpstreamError, UpstreamTimeout
from edgesplit.http.auth import bearer_headers

__all__ = ["SessionGone", "TierClient"]


class SessionGone(UpstreamError):
    """The upstream no longer knows the session (expired, or the node restarted): open a new one."""


class TierClient:
    """HTTP calls under ``base_url`` with a bearer token and one timeout per call."""

    what = "upstream"  # named in error messages

    def __init__(self, base_url: str, token: str | None, timeout_s: float) -> None:
        headers = bearer_headers(token)
        self._client = httpx.AsyncClient(base_url=base_url.rstrip("/"), headers=headers, timeout=timeout_s)

    async def _call(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        try:
            response = await self._client.request(method, path, **kwargs)
        except httpx.TimeoutException:
            raise UpstreamTimeout(f"{self.what} gave no answer within {self._client.timeout.read} s") from None
        except httpx.HTTPError as exc:
            raise UpstreamError(f"{self.what} unreachable: {type(exc).__name__}: {exc}") from None
        if response.status_code == 404 and "session_not_found" in response.text:
            raise SessionGone(f"{self.what} session expired upstream", status_code=404)
        if response.status_code >= 400:
            raise UpstreamError(
                f"{self.what} answered {response.status_code}: {response.text[:200]}",
                status_code=response.status_code,
            )
        return response

    async def _close_session(self, path: str) -> None:
        with contextlib.suppress(UpstreamError):  # expiry frees it anyway
            await self._call("DELETE", path)

    async def aclose(self) -> None:
        await self._client.aclose()
