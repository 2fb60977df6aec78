"""RemoteVerifier: the edge's client for a verify session on the upstream."""

from __future__ import annotations

from typing import Any

from edgesplit.transport.tier_client import SessionGone, TierClient

__all__ = ["RemoteVerifier", "SessionGone"]


class RemoteVerifier(TierClient):
    """``/v1/speculative/sessions``: open, verify a draft, close."""

    what = "speculative upstream"

    async def open(self, body: dict[str, Any]) -> dict[str, Any]:
        return dict((await self._call("POST", "/v1/speculative/sessions", json=body)).json())

    async def verify(self, session_id: str, draft: str, commit: str = "") -> dict[str, Any]:
        body = {"draft": draft, "commit": commit}
        return dict((await self._call("POST", f"/v1/speculative/sessions/{session_id}/verify", json=body)).json())

    async def close(self, session_id: str) -> None:
        await self._close_session(f"/v1/speculative/sessions/{session_id}")
