"""RemoteSegment: the edge's client for a split session on the upstream (layers [k, N) + head)."""

from __future__ import annotations

from typing import Any

from edgesplit.transport.sessions import RemoteSession
from edgesplit.transport.upstream import UpstreamClient

__all__ = ["RemoteSegment"]


class RemoteSegment(RemoteSession):
    """``/v1/split/sessions``: open, forward a frame, close (transport/sessions.py)."""

    def __init__(self, client: UpstreamClient) -> None:
        super().__init__(client, "/v1/split/sessions", "split upstream")

    async def forward(self, session_id: str, frame: bytes) -> dict[str, Any]:
        headers = {"content-type": "application/octet-stream"}
        return dict(await self.post(session_id, "forward", headers, content=frame))
