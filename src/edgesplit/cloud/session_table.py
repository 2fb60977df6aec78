"""SessionTable: a tier's open sessions (split, speculative), each expiring ``ttl_s`` after its last use.

Thread-safe. Expired sessions are dropped whenever the table is read or grows; ``on_drop`` is
called for every session that leaves it (expired or closed), so its owner can free what the
session held.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Generic, Protocol, TypeVar

from edgesplit.errors import NotFound

__all__ = ["SessionTable"]


class _Session(Protocol):
    id: str
    last_used: float


S = TypeVar("S", bound=_Session)


class SessionTable(Generic[S]):
    def __init__(
        self,
        kind: str,
        ttl_s: float,
        clock: Callable[[], float] = time.monotonic,
        on_drop: Callable[[S], None] = lambda _: None,
    ) -> None:
        self.kind = kind  # named in errors: "split session ... is unknown or expired"
        self.ttl_s = ttl_s
        self.clock = clock
        self._on_drop = on_drop
        self._sessions: dict[str, S] = {}
        self._lock = threading.Lock()

    def add(self, session: S, admit: Callable[[list[S]], None] = lambda _: None) -> S:
        """Register ``session``; ``admit`` sees the live sessions first and raises to refuse it."""
        with self._lock:
            self._expire()
            admit(list(self._sessions.values()))
            self._sessions[session.id] = session
        return session

    def get(self, session_id: str) -> S:
        """The live session (its TTL starts again), or NotFound."""
        with self._lock:
            self._expire()
            session = self._sessions.get(session_id)
            if session is None:
                raise self._not_found(session_id, "; open a new one")
            session.last_used = self.clock()
            return session

    def close(self, session_id: str) -> None:
        with self._lock:
            session = self._sessions.pop(session_id, None)
            if session is None:
                raise self._not_found(session_id, "")
            self._on_drop(session)

    def __contains__(self, session_id: str) -> bool:
        with self._lock:
            return session_id in self._sessions

    def __len__(self) -> int:
        with self._lock:
            self._expire()
            return len(self._sessions)

    def _not_found(self, session_id: str, hint: str) -> NotFound:
        return NotFound(
            f"{self.kind} session {session_id!r} is unknown or expired{hint}",
            param="session_id",
            code="session_not_found",
        )

    def _expire(self) -> None:
        now = self.clock()
        for sid in [sid for sid, s in self._sessions.items() if now - s.last_used > self.ttl_s]:
            self._on_drop(self._sessions.pop(sid))
