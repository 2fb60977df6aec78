"""Vault: the edge-only mapping between raw values and typed placeholders, per conversation.

Within a conversation the same value always gets the same placeholder (``<PERSON_1>``), in
every turn and every request, so the cloud model can refer to it consistently. Mappings live
in memory only and expire ``ttl_s`` after their last use; nothing is written to disk, and the
vault's ``repr`` never shows values, so it cannot leak into logs by accident.
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

__all__ = ["Mapping", "Vault", "conversation_id", "placeholder_type"]


@dataclass
class Mapping:
    """One conversation's placeholders. ``value_of`` is what restoration reads."""

    by_value: dict[tuple[str, str], str] = field(default_factory=dict)  # (type, value) -> placeholder
    value_of: dict[str, str] = field(default_factory=dict)  # placeholder -> value
    counters: dict[str, int] = field(default_factory=dict)
    last_used: float = 0.0
    # Redaction runs in worker threads (NER is off the event loop): two requests of one
    # conversation must never give two values the same number.
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def placeholder(self, kind: str, value: str) -> str:
        key = (kind, value)
        with self._lock:
            found = self.by_value.get(key)
            if found is None:
                self.counters[kind] = self.counters.get(kind, 0) + 1
                found = f"<{kind}_{self.counters[kind]}>"
                self.by_value[key] = found
                self.value_of[found] = value
        return found

    @classmethod
    def restored(cls, value_of: dict[str, str], counters: dict[str, int]) -> Mapping:
        """A mapping rebuilt from its placeholders (``<PERSON_1>`` → value) and counters."""
        by_value = {(placeholder_type(p), v): p for p, v in value_of.items()}
        return cls(by_value=by_value, value_of=dict(value_of), counters=dict(counters))

    def __repr__(self) -> str:
        return f"Mapping({len(self.value_of)} placeholders)"


def placeholder_type(placeholder: str) -> str:
    """``<PERSON_1>`` → ``PERSON``."""
    return placeholder[1:].rsplit("_", 1)[0]


def conversation_id(explicit: str | None, first_message: str) -> str:
    """The client's conversation id, or one derived from the conversation's first message.

    Clients resend the whole history each turn, so its first message identifies the
    conversation; the id is a hash, so it holds no raw text.
    """
    if explicit:
        return "c:" + explicit
    return "h:" + hashlib.sha256(first_message.encode("utf-8")).hexdigest()[:32]


class Vault:
    """Conversation id → :class:`Mapping`, with a TTL. Thread-safe."""

    def __init__(self, ttl_s: float = 3600.0, clock: Callable[[], float] = time.monotonic) -> None:
        self.ttl_s = ttl_s
        self._clock = clock
        self._maps: dict[str, Mapping] = {}
        self._lock = threading.Lock()

    def mapping(self, conversation: str) -> Mapping:
        """The conversation's mapping, created if new or expired; its TTL restarts."""
        now = self._clock()
        with self._lock:
            self._expire(now)
            found = self._maps.get(conversation)
            if found is None:
                found = self._maps[conversation] = Mapping()
            found.last_used = now
            return found

    def get(self, conversation: str) -> Mapping | None:
        """The conversation's mapping if it is still held (does not create or refresh one)."""
        with self._lock:
            self._expire(self._clock())
            return self._maps.get(conversation)

    def __len__(self) -> int:
        with self._lock:
            self._expire(self._clock())
            return len(self._maps)

    def _expire(self, now: float) -> None:
        stale = [cid for cid, m in self._maps.items() if now - m.last_used > self.ttl_s]
        for cid in stale:
            del self._maps[cid]

    def __repr__(self) -> str:
        return f"Vault({len(self._maps)} conversations, ttl {self.ttl_s:g} s)"
