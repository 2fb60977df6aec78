"""RemoteVerifier: the edge's client for a verify session on the upstream."""

from __future__ import annotations

from typing import Any

from edgesplit.transport.sessions import RemoteSession
from edgesplit.transport.upstream import UpstreamClient

__all__ = ["RemoteVerifier"]


class RemoteVerifier(RemoteSession):
    """``/v1/speculative/sessions``: open, verify a draft, close (transport/sessions.py)."""

    def __init__(self, client: UpstreamClient) -> None:
        super().__init__(client, "/v1/speculative/sessions", "speculative upstream")

    async def verify(
        self,
        session_id: str,
        draft: str,
        commit: str = "",
        draft_ids: list[int] | None = None,
        commit_ids: list[int] | None = None,
    ) -> dict[str, Any]:
        """Check a draft; with ids (same vocabulary as the verifier's) the text is only what was shown."""
        body: dict[str, Any] = {"draft": draft, "commit": commit}
        if draft_ids is not None:
            body |= {"draft_ids": draft_ids, "commit_ids": commit_ids or []}
        return dict(await self.post(session_id, "verify", json=body))
