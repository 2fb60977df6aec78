"""SQLite plumbing shared by the outbox and the result store: WAL, fsync on commit, ordered migrations.

A schema is an ordered list of migration functions (``m001_initial``, ``m002_...``); the
database's ``user_version`` records how many have run, and start-up applies the rest.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

__all__ = ["Database", "Migration"]

Migration = Callable[[sqlite3.Connection], None]


class Database:
    """One SQLite file, one connection guarded by a lock (callers may be on several threads)."""

    def __init__(self, path: Path, migrations: Sequence[Migration]) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._conn = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._conn.row_factory = sqlite3.Row
        self._lock = threading.Lock()
        self._conn.execute("PRAGMA journal_mode=WAL")
        self._conn.execute("PRAGMA synchronous=FULL")  # a commit survives power loss, not just a crash
        self._conn.execute("PRAGMA busy_timeout=5000")
        self._migrate(migrations)

    def _migrate(self, migrations: Sequence[Migration]) -> None:
        with self.transaction() as conn:
            done = int(conn.execute("PRAGMA user_version").fetchone()[0])
            for number, migration in enumerate(migrations[done:], start=done + 1):
                migration(conn)
                conn.execute(f"PRAGMA user_version={number}")

    @property
    def version(self) -> int:
        with self._lock:
            return int(self._conn.execute("PRAGMA user_version").fetchone()[0])

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """``BEGIN IMMEDIATE`` … ``COMMIT`` (or ``ROLLBACK`` on error), holding the lock."""
        with self._lock:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                yield self._conn
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            self._conn.execute("COMMIT")

    def query(self, sql: str, params: Sequence[object] = ()) -> list[sqlite3.Row]:
        with self._lock:
            return list(self._conn.execute(sql, params).fetchall())

    def close(self) -> None:
        with self._lock:
            self._conn.close()
