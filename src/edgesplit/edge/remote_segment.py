"""RemoteSegment: the edge's client for a split session on the upstream (layers [k, N) + head)."""

from __future__ import annotations

from typing import Any

from edgesplit.transport.tier_client import SessionGone, TierClient

__all__ = ["RemoteSegment", "SessionGone"]


class RemoteSegment(TierClient):
    """``/v1/split/sessions``: open, forward a frame, close."""

    what = "split upstream"

    async def open(self, body: dict[str, Any]) -> dict[str, Any]:
        return dict((await self._call("POST", "/v1/split/sessions", json=body)).json())

    async def forward(self, session_id: str, frame: bytes) -> dict[str, Any]:
        headers = {"content-type": "application/octet-stream"}
        response = await self._call("POST", f"/v1/split/sessions/{session_id}/forward", content=frame, headers=headers)
        return dict(response.json())

    async def close(self, session_id: str) -> None:
        await self._close_session(f"/v1/split/sessions/{session_id}")
