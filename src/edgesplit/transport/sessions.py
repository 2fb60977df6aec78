"""RemoteSession: a session API on the upstream, every call of one session to the same replica.

Split and verify sessions hold a KV cache on the server that opened them. When the cloud tier
is several replicas behind one address (Ray Serve, ``engine = "ray"``), each call of a session
must reach that replica. The edge picks an affinity key when it opens a session and sends it
as ``x-session-id`` on every call of that session, the header Ray Serve's proxy hashes on
(``RAY_SERVE_SESSION_ID_HEADER_KEY``; cloud/ray_serve.py routes by consistent hashing over it).
A single server ignores the header.

A session whose replica is gone answers 404 (:class:`SessionGone`), or, when the replica died
during the call, 500/502/503 from the proxy: :func:`session_lost` says both mean "open it again".
"""

from __future__ import annotations

import uuid
from typing import Any

from edgesplit.errors import UpstreamError
from edgesplit.transport.upstream import SessionGone, UpstreamClient

__all__ = ["AFFINITY_HEADER", "RemoteSession", "SessionGone", "session_lost"]

AFFINITY_HEADER = "x-session-id"
_REPLICA_LOST = frozenset({500, 502, 503})  # a load balancer's answer when the replica behind it died


def session_lost(exc: UpstreamError) -> bool:
    """Is the session (or the replica holding it) gone, so that re-opening it may succeed?"""
    return isinstance(exc, SessionGone) or exc.status_code in _REPLICA_LOST


class RemoteSession:
    """``base`` (``/v1/split/sessions``): open, call an action of one session, close."""

    def __init__(self, client: UpstreamClient, base: str, what: str) -> None:
        self.client = client  # shared with the edge's other upstream calls; its owner closes it
        self.base = base
        self.what = what  # named in error messages
        self._keys: dict[str, str] = {}  # session id -> its affinity key
        self.replicas: dict[str, str] = {}  # session id -> the replica that opened it, when one says so

    async def open(self, body: dict[str, Any]) -> dict[str, Any]:
        key = uuid.uuid4().hex
        reply = await self.client.call("POST", self.base, what=self.what, json=body, headers={AFFINITY_HEADER: key})
        opened = dict(reply.json())
        self._keys[str(opened["id"])] = key
        if replica := reply.headers.get("x-edgesplit-replica"):
            self.replicas[str(opened["id"])] = replica
        return opened

    async def post(self, session_id: str, action: str, headers: dict[str, str] | None = None, **kwargs: Any) -> Any:
        """``POST base/{id}/{action}`` on the session's replica; the JSON answer."""
        sent = {**(headers or {}), AFFINITY_HEADER: self._keys.get(session_id, session_id)}
        path = f"{self.base}/{session_id}/{action}"
        return (await self.client.call("POST", path, what=self.what, headers=sent, **kwargs)).json()

    def forget(self, session_id: str) -> str:
        """Drop what this edge keeps about a session (it is gone upstream); its affinity key."""
        self.replicas.pop(session_id, None)
        return self._keys.pop(session_id, session_id)

    async def close(self, session_id: str) -> None:
        key = self.forget(session_id)
        await self.client.close_session(f"{self.base}/{session_id}", self.what, {AFFINITY_HEADER: key})
