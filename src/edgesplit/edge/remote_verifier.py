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

    async def verify(
        self,
        session_id: str,
        draft: str,
        commit: str = "",
        draft_ids: list[int] | None = None,
        commit_ids: list[int] | None = None,
    ) -> dict[str, Any]:
        """Check a draft; with ids (same vocabulary as the verifier's) the text is only what was shown."""
        path = f"/v1/speculative/sessions/{session_id}/verify"
        body: dict[str, Any] = {"draft": draft, "commit": commit}
        if draft_ids is not None:
            body |= {"draft_ids": draft_ids, "commit_ids": commit_ids or []}
        return dict((await self.client.call("POST", path, what=_WHAT, json=body)).json())

    async def close(self, session_id: str) -> None:
        await self.client.close_session(f"/v1/speculative/sessions/{session_id}", _WHAT)
