"""RemoteVerifier: the edge's client for a verify session on the upstream."""

from __future__ import annotations

from typing import Any

from edgesplit.transport.upstream import SessionGone, UpstreamClient

__all__ = ["RemoteVerifier", "SessionGone"]

_WHAT = "speculative upstream"  # named in error messages


class RemoteVerifier:
    """``/v1/speculative/sessions``: open, verify a draft, close."""

    def __init__(self, client: UpstreamClient) -> None:
        self.client = client  # shared with the edge's other upstream calls; its owner closes it

    async def open(self, body: dict[str, Any]) -> dict[str, Any]:
        return dict((await self.client.call("POST", "/v1/speculative/sessions", what=_WHAT, json=body)).json())

    async def verify(self, session_id: str, draft: str, commit: str = "") -> dict[str, Any]:
        path = f"/v1/speculative/sessions/{session_id}/verify"
        body = {"draft": draft, "commit": commit}
        return dict((await self.client.call("POST", path, what=_WHAT, json=body)).json())

    async def close(self, session_id: str) -> None:
        await self.client.close_session(f"/v1/speculative/sessions/{session_id}", _WHAT)
