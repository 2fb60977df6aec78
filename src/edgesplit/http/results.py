"""ResultStore: the cloud keeps each idempotent request's answer, so a replay never runs twice.

An ``Idempotency-Key`` request is claimed before it runs (``running``), its response stored
when it finishes (``done``), and marked ``abandoned`` if it fails, so a retry may run it. A
replay of a finished key gets the stored answer; a replay while it still runs gets a 409
to retry later; the same key with a different request body is refused. ``runs`` counts
how often the model started for a key (a run cut short by a disconnect counts too);
:meth:`ResultStore.completed_per_digest` counts finished runs per request body, which
fault tests check is exactly one.
"""

from __future__ import annotations

import json
import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from edgesplit.errors import IdempotencyConflict
from edgesplit.store import Database, Migration

__all__ = ["Claim", "ResultStore"]


def m001_initial(conn: sqlite3.Connection) -> None:
    conn.execute(
        """CREATE TABLE results (
            key TEXT PRIMARY KEY,
            digest TEXT NOT NULL,
            status TEXT NOT NULL,
            created REAL NOT NULL,
            completed REAL,
            executions INTEGER NOT NULL DEFAULT 0,
            response_json TEXT
        )"""
    )


def m002_replays(conn: sqlite3.Connection) -> None:
    conn.execute("ALTER TABLE results ADD COLUMN replays INTEGER NOT NULL DEFAULT 0")


MIGRATIONS: list[Migration] = [m001_initial, m002_replays]


@dataclass(frozen=True)
class Claim:
    status: Literal["new", "done"]
    response: dict[str, Any] | None = None


class ResultStore:
    """Idempotency keys and stored responses, on disk."""

    def __init__(self, path: Path) -> None:
        self.db = Database(path, MIGRATIONS)
        with self.db.transaction() as conn:  # a run cut short by a crash never finished: let it be retried
            conn.execute("UPDATE results SET status = 'abandoned' WHERE status = 'running'")

    def claim(self, key: str, digest: str) -> Claim:
        """Start running ``key``, or return its stored answer; raises IdempotencyConflict."""
        with self.db.transaction() as conn:
            row = conn.execute("SELECT digest, status, response_json FROM results WHERE key = ?", (key,)).fetchone()
            if row is None:
                conn.execute(
                    "INSERT INTO results (key, digest, status, created, executions) VALUES (?, ?, 'running', ?, 1)",
                    (key, digest, time.time()),
                )
                return Claim("new")
            if row["digest"] != digest:
                raise IdempotencyConflict(f"idempotency key {key!r} was used for a different request", False)
            if row["status"] == "abandoned":
                conn.execute("UPDATE results SET status = 'running', executions = executions + 1 WHERE key = ?", (key,))
                return Claim("new")
            if row["status"] == "running":
                raise IdempotencyConflict(f"request with idempotency key {key!r} is still running", True)
            conn.execute("UPDATE results SET replays = replays + 1 WHERE key = ?", (key,))
            return Claim("done", json.loads(row["response_json"]))

    def complete(self, key: str, response: dict[str, Any]) -> None:
        with self.db.transaction() as conn:
            conn.execute(
                "UPDATE results SET status = 'done', completed = ?, response_json = ? WHERE key = ?",
                (time.time(), json.dumps(response), key),
            )

    def abandon(self, key: str) -> None:
        """The run failed: release the claim so a retry can run it."""
        with self.db.transaction() as conn:
            conn.execute("UPDATE results SET status = 'abandoned' WHERE key = ? AND status = 'running'", (key,))

    def get(self, key: str) -> dict[str, Any] | None:
        rows = self.db.query("SELECT response_json FROM results WHERE key = ? AND status = 'done'", (key,))
        return json.loads(rows[0]["response_json"]) if rows else None

    def runs(self) -> dict[str, int]:
        """How many times the model started, per key."""
        return {row["key"]: int(row["executions"]) for row in self.db.query("SELECT key, executions FROM results")}

    def replays(self) -> int:
        """Requests answered from a stored result instead of running again."""
        return int(self.db.query("SELECT COALESCE(SUM(replays), 0) AS n FROM results")[0]["n"])

    def completed_per_digest(self) -> dict[str, int]:
        """Finished runs per request body: a request delivered under two keys would show 2."""
        rows = self.db.query("SELECT digest, COUNT(*) AS n FROM results WHERE status = 'done' GROUP BY digest")
        return {row["digest"]: int(row["n"]) for row in rows}

    def close(self) -> None:
        self.db.close()
