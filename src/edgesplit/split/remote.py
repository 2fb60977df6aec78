"""RemoteSegment: the edge's client for a split session on the upstream (layers [k, N) + head)."""

from __future__ import annotations

import contextlib
from typing import Any

import httpx

from edgesplit.auth import bearer_headers
from edgesplit.errors import UpstreamError, UpstreamTimeout

__all__ = ["RemoteSegment", "SessionGone"]


class SessionGone(UpstreamError):
    """The upstream no longer knows the session (expired, or the node restarted): open a new one."""


class RemoteSegment:
    """HTTP calls to ``/v1/split/sessions`` with a bearer token and one timeout per call."""

    def __init__(self, base_url: str, token: str | None, timeout_s: float) -> None:
        headers = bearer_headers(token)
        self._client = httpx.AsyncClient(base_url=base_url.rstrip("/"), headers=headers, timeout=timeout_s)

    async def _call(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        try:
            response = await self._client.request(method, path, **kwargs)
        except httpx.TimeoutException:
            raise UpstreamTimeout(f"split upstream gave no answer within {self._client.timeout.read} s") from None
        except httpx.HTTPError as exc:
            raise UpstreamError(f"split upstream unreachable: {type(exc).__name__}: {exc}") from None
        if response.status_code == 404 and "session_not_found" in response.text:
            raise SessionGone("split session expired upstream", status_code=404)
        if response.status_code >= 400:
            raise UpstreamError(
                f"split upstream answered {response.status_code}: {response.text[:200]}",
                status_code=response.status_code,
            )
        return response

    async def open(self, body: dict[str, Any]) -> dict[str, Any]:
        return dict((await self._call("POST", "/v1/split/sessions", json=body)).json())

    async def forward(self, session_id: str, frame: bytes) -> dict[str, Any]:
        headers = {"content-type": "application/octet-stream"}
        response = await self._call("POST", f"/v1/split/sessions/{session_id}/forward", content=frame, headers=headers)
        return dict(response.json())

    async def close(self, session_id: str) -> None:
        with contextlib.suppress(UpstreamError):  # expiry frees it anyway
            await self._call("DELETE", f"/v1/split/sessions/{session_id}")

    async def aclose(self) -> None:
        await self._client.aclose()
