"""RemoteSegment: the edge's client for a split session on the upstream (layers [k, N) + head)."""

from __future__ import annotations

from typing import Any

from edgesplit.transport.upstream import SessionGone, UpstreamClient

__all__ = ["RemoteSegment", "SessionGone"]

_WHAT = "split upstream"  # named in error messages


class RemoteSegment:
    """``/v1/split/sessions``: open, forward a frame, close."""

    def __init__(self, client: UpstreamClient) -> None:
        self.client = client  # shared with the edge's other upstream calls; its owner closes it

    async def open(self, body: dict[str, Any]) -> dict[str, Any]:
        return dict((await self.client.call("POST", "/v1/split/sessions", what=_WHAT, json=body)).json())

    async def forward(self, session_id: str, frame: bytes) -> dict[str, Any]:
        path = f"/v1/split/sessions/{session_id}/forward"
        headers = {"content-type": "application/octet-stream"}
        return dict((await self.client.call("POST", path, what=_WHAT, content=frame, headers=headers)).json())

    async def close(self, session_id: str) -> None:
        await self.client.close_session(f"/v1/split/sessions/{session_id}", _WHAT)
