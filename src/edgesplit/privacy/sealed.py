"""Sealed mappings: the placeholder mappings of deferred jobs, encrypted on disk, so answers survive a restart.

A deferred job's answer may arrive after the edge restarted, when the in-memory :class:`Vault`
no longer holds the conversation's mapping. The edge therefore seals the mapping of every
conversation it defers: Fernet (AES-128-CBC + HMAC-SHA256, from ``cryptography``) over its JSON,
in a SQLite file of its own. The key lives outside that database: ``EDGESPLIT_VAULT_KEY`` (a
Fernet key), or a key file created with mode 0600 beside it. A sealed mapping expires like the
vault's (``vault_ttl_s`` after it was sealed, by wall clock, since restarts reset monotonic time)
and is deleted when read after that.
"""

from __future__ import annotations

import json
import os
import sqlite3
import time
from collections.abc import Callable
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken

from edgesplit.errors import ConfigError
from edgesplit.privacy.vault import Mapping
from edgesplit.store import Database

__all__ = ["SealedMappings", "load_key"]


def m001_sealed(conn: sqlite3.Connection) -> None:
    conn.execute("CREATE TABLE sealed (conversation TEXT PRIMARY KEY, token BLOB NOT NULL, expires_at REAL NOT NULL)")


def load_key(key_file: Path, configured: str | None = None) -> bytes:
    """The configured Fernet key, else the key file's, else a new key written to ``key_file`` (0600)."""
    key = configured.encode() if configured else None
    if key is None and key_file.exists():
        key = key_file.read_bytes().strip()
    if key is None:
        key = Fernet.generate_key()
        key_file.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(key)
    try:
        Fernet(key)
    except ValueError as exc:
        raise ConfigError(f"vault_key: not a Fernet key ({exc})") from None
    return key


class SealedMappings:
    """Conversation id → encrypted :class:`Mapping`, with an expiry."""

    def __init__(self, path: Path, key: bytes, ttl_s: float, clock: Callable[[], float] = time.time) -> None:
        self.db = Database(path, [m001_sealed])
        self._fernet = Fernet(key)
        self.ttl_s = ttl_s
        self._clock = clock

    def seal(self, conversation: str, mapping: Mapping) -> None:
        """Store (or replace) the conversation's mapping, encrypted; it expires ``ttl_s`` from now."""
        payload = json.dumps({"value_of": mapping.value_of, "counters": mapping.counters}).encode()
        token = self._fernet.encrypt(payload)
        with self.db.transaction() as conn:
            conn.execute(
                "INSERT OR REPLACE INTO sealed (conversation, token, expires_at) VALUES (?, ?, ?)",
                (conversation, token, self._clock() + self.ttl_s),
            )

    def open(self, conversation: str) -> Mapping | None:
        """The conversation's mapping if sealed and not expired (an expired or unreadable one is deleted)."""
        rows = self.db.query("SELECT token, expires_at FROM sealed WHERE conversation = ?", (conversation,))
        if not rows:
            return None
        if rows[0]["expires_at"] < self._clock():
            self._delete(conversation)
            return None
        try:
            data = json.loads(self._fernet.decrypt(rows[0]["token"]))
        except InvalidToken:  # sealed with another key: the values are gone for good
            self._delete(conversation)
            return None
        return Mapping.restored(data["value_of"], data["counters"])

    def purge(self) -> int:
        """Delete every expired mapping; returns how many."""
        with self.db.transaction() as conn:
            return conn.execute("DELETE FROM sealed WHERE expires_at < ?", (self._clock(),)).rowcount

    def _delete(self, conversation: str) -> None:
        with self.db.transaction() as conn:
            conn.execute("DELETE FROM sealed WHERE conversation = ?", (conversation,))

    def close(self) -> None:
        self.db.close()

    def __repr__(self) -> str:
        return f"SealedMappings({self.db.path.name}, ttl {self.ttl_s:g} s)"
