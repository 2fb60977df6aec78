"""Outbox: the edge's durable store-and-forward queue for work that waits for the cloud.

A deferred request is committed (WAL, fsync) before the client gets its ``202`` and job id,
so a killed edge process loses nothing. Each job carries an idempotency key that the cloud
uses to run it at most once however often it is delivered; the delivery worker
(:mod:`edgesplit.edge.delivery`) moves jobs ``queued → delivering → done | failed``. Jobs caught
in ``delivering`` by a crash go back to ``queued`` at start-up.
"""

from __future__ import annotations

import json
import sqlite3
import time
import uuid
from pathlib import Path
from typing import Any, Literal

from edgesplit.errors import OutboxFull
from edgesplit.schemas import JobRecord
from edgesplit.store import Database, Migration

__all__ = ["Outbox"]


def m001_initial(conn: sqlite3.Connection) -> None:
    conn.execute(
        """CREATE TABLE jobs (
            id TEXT PRIMARY KEY,
            idempotency_key TEXT NOT NULL UNIQUE,
            kind TEXT NOT NULL,
            request_json TEXT NOT NULL,
            size_bytes INTEGER NOT NULL,
            status TEXT NOT NULL,
            created REAL NOT NULL,
            completed REAL,
            attempts INTEGER NOT NULL DEFAULT 0,
            next_attempt_at REAL NOT NULL,
            last_error TEXT,
            result_json TEXT
        )"""
    )
    conn.execute("CREATE INDEX jobs_due ON jobs(status, next_attempt_at)")


def m002_callbacks(conn: sqlite3.Connection) -> None:
    conn.execute("ALTER TABLE jobs ADD COLUMN callback_url TEXT")
    conn.execute("ALTER TABLE jobs ADD COLUMN callback_done INTEGER NOT NULL DEFAULT 0")


def m003_conversation(conn: sqlite3.Connection) -> None:
    # the vault conversation id (a hash) whose placeholders the result may contain; never raw values
    conn.execute("ALTER TABLE jobs ADD COLUMN conversation TEXT")


MIGRATIONS: list[Migration] = [m001_initial, m002_callbacks, m003_conversation]
_PENDING = ("queued", "delivering")


class Outbox:
    """Jobs on disk, with row and byte limits."""

    def __init__(self, path: Path, max_rows: int = 100_000, max_bytes: int = 512 * 1024 * 1024) -> None:
        self.db = Database(path, MIGRATIONS)
        self.max_rows = max_rows
        self.max_bytes = max_bytes
        with self.db.transaction() as conn:  # a crash mid-delivery leaves jobs "delivering": retry them
            conn.execute("UPDATE jobs SET status = 'queued' WHERE status = 'delivering'")

    def enqueue(
        self,
        kind: Literal["chat", "text", "feedback"],
        request: dict[str, Any],
        callback_url: str | None = None,
        conversation: str | None = None,
    ) -> JobRecord:
        """Store a request durably; raises :class:`OutboxFull` at the limits."""
        body = json.dumps(request, separators=(",", ":"))
        now = time.time()
        job_id = f"job_{uuid.uuid4().hex}"
        with self.db.transaction() as conn:
            rows, size = conn.execute(
                "SELECT COUNT(*), COALESCE(SUM(size_bytes), 0) FROM jobs WHERE status IN (?, ?)", _PENDING
            ).fetchone()
            if rows >= self.max_rows or size + len(body) > self.max_bytes:
                raise OutboxFull(
                    f"outbox full: {rows} pending jobs, {size} bytes "
                    f"(limits {self.max_rows} jobs, {self.max_bytes} bytes)"
                )
            conn.execute(
                "INSERT INTO jobs (id, idempotency_key, kind, request_json, size_bytes, status, created,"
                " next_attempt_at, callback_url, conversation) VALUES (?, ?, ?, ?, ?, 'queued', ?, ?, ?, ?)",
                (job_id, f"idem_{uuid.uuid4().hex}", kind, body, len(body), now, now, callback_url, conversation),
            )
        return self.get(job_id)  # type: ignore[return-value]

    def get(self, job_id: str) -> JobRecord | None:
        rows = self.db.query("SELECT * FROM jobs WHERE id = ?", (job_id,))
        return _record(rows[0]) if rows else None

    def jobs(self, status: str | None = None, limit: int = 100) -> list[JobRecord]:
        if status is None:
            rows = self.db.query("SELECT * FROM jobs ORDER BY created DESC LIMIT ?", (limit,))
        else:
            rows = self.db.query("SELECT * FROM jobs WHERE status = ? ORDER BY created DESC LIMIT ?", (status, limit))
        return [_record(row) for row in rows]

    def counts(self) -> dict[str, int]:
        rows = self.db.query("SELECT status, COUNT(*) AS n FROM jobs GROUP BY status")
        return {row["status"]: int(row["n"]) for row in rows}

    def counts_by_kind(self) -> dict[str, dict[str, int]]:
        """Jobs by kind (chat, text, feedback), then by status."""
        rows = self.db.query("SELECT kind, status, COUNT(*) AS n FROM jobs GROUP BY kind, status")
        counts: dict[str, dict[str, int]] = {}
        for row in rows:
            counts.setdefault(row["kind"], {})[row["status"]] = int(row["n"])
        return counts

    def claim_due(self, limit: int) -> list[tuple[str, str, str, dict[str, Any]]]:
        """Mark up to ``limit`` due jobs ``delivering``; returns (id, idempotency key, kind, request)."""
        with self.db.transaction() as conn:
            rows = conn.execute(
                "SELECT id, idempotency_key, kind, request_json FROM jobs"
                " WHERE status = 'queued' AND next_attempt_at <= ? ORDER BY created LIMIT ?",
                (time.time(), limit),
            ).fetchall()
            conn.executemany("UPDATE jobs SET status = 'delivering' WHERE id = ?", [(r["id"],) for r in rows])
        return [(r["id"], r["idempotency_key"], r["kind"], json.loads(r["request_json"])) for r in rows]

    def next_due_in_s(self) -> float | None:
        """Seconds until the earliest queued job is due (0 if one is due now); None if none is queued."""
        rows = self.db.query("SELECT MIN(next_attempt_at) AS t FROM jobs WHERE status = 'queued'")
        earliest = rows[0]["t"]
        return None if earliest is None else max(0.0, float(earliest) - time.time())

    def mark_done(self, job_id: str, result: dict[str, Any]) -> None:
        with self.db.transaction() as conn:
            conn.execute(
                "UPDATE jobs SET status = 'done', completed = ?, attempts = attempts + 1, result_json = ?,"
                " last_error = NULL WHERE id = ?",
                (time.time(), json.dumps(result), job_id),
            )

    def mark_retry(self, job_id: str, error: str, delay_s: float) -> None:
        with self.db.transaction() as conn:
            conn.execute(
                "UPDATE jobs SET status = 'queued', attempts = attempts + 1, last_error = ?, next_attempt_at = ?"
                " WHERE id = ?",
                (error, time.time() + delay_s, job_id),
            )

    def mark_failed(self, job_id: str, error: str) -> None:
        with self.db.transaction() as conn:
            conn.execute(
                "UPDATE jobs SET status = 'failed', completed = ?, attempts = attempts + 1, last_error = ?"
                " WHERE id = ?",
                (time.time(), error, job_id),
            )

    def conversation_of(self, job_id: str) -> str | None:
        rows = self.db.query("SELECT conversation FROM jobs WHERE id = ?", (job_id,))
        return rows[0]["conversation"] if rows else None

    def attempts(self, job_id: str) -> int:
        rows = self.db.query("SELECT attempts FROM jobs WHERE id = ?", (job_id,))
        return int(rows[0]["attempts"]) if rows else 0

    def pending_callbacks(self, limit: int = 50) -> list[JobRecord]:
        rows = self.db.query(
            "SELECT * FROM jobs WHERE callback_url IS NOT NULL AND callback_done = 0 AND status IN ('done', 'failed')"
            " ORDER BY completed LIMIT ?",
            (limit,),
        )
        return [_record(row) for row in rows]

    def mark_callback_done(self, job_id: str) -> None:
        with self.db.transaction() as conn:
            conn.execute("UPDATE jobs SET callback_done = 1 WHERE id = ?", (job_id,))

    def close(self) -> None:
        self.db.close()


def _record(row: sqlite3.Row) -> JobRecord:
    return JobRecord(
        id=row["id"],
        status=row["status"],
        kind=row["kind"],
        created=row["created"],
        completed=row["completed"],
        attempts=row["attempts"],
        next_attempt_at=row["next_attempt_at"] if row["status"] == "queued" else None,
        last_error=row["last_error"],
        callback_url=row["callback_url"],
        result=json.loads(row["result_json"]) if row["result_json"] else None,
    )
