"""FeedbackStore: the hard cases every edge sent up, kept on the cloud until the router is refit.

``POST /v1/feedback/batch`` (with the outbox job's ``Idempotency-Key``) stores a batch once: a
retried delivery of the same batch stores nothing new. Candidates arrive redacted; the store
never sees more than the cloud would have seen of the request itself. ``edgesplit feedback
refit`` labels them (:mod:`edgesplit.evaluation.feedback`) and marks them used.
"""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from fastapi import Request
from pydantic import BaseModel, Field

from edgesplit.errors import InvalidRequest
from edgesplit.http.openapi import json_body
from edgesplit.schemas import Candidate
from edgesplit.store import Database

if TYPE_CHECKING:
    from fastapi import FastAPI

__all__ = ["FeedbackBatch", "FeedbackBatchAck", "FeedbackStats", "FeedbackStore", "add_feedback_routes"]


class FeedbackBatch(BaseModel):
    candidates: list[Candidate] = Field(max_length=10_000)


def _m001_initial(conn: sqlite3.Connection) -> None:
    conn.execute(
        "CREATE TABLE candidates (id TEXT PRIMARY KEY, batch_key TEXT NOT NULL, kind TEXT NOT NULL,"
        " edge_model TEXT NOT NULL, body_json TEXT NOT NULL, received REAL NOT NULL, used INTEGER NOT NULL DEFAULT 0)"
    )
    conn.execute("CREATE TABLE batches (key TEXT PRIMARY KEY, received REAL NOT NULL, candidates INTEGER NOT NULL)")


class FeedbackStore:
    def __init__(self, path: Path) -> None:
        self.db = Database(path, [_m001_initial])

    def add_batch(self, key: str, batch: FeedbackBatch) -> bool:
        """Store a batch under its idempotency key; False when that key was stored before."""
        now = time.time()
        with self.db.transaction() as conn:
            if conn.execute("SELECT 1 FROM batches WHERE key = ?", (key,)).fetchone():
                return False
            conn.execute("INSERT INTO batches VALUES (?, ?, ?)", (key, now, len(batch.candidates)))
            conn.executemany(
                "INSERT OR IGNORE INTO candidates (id, batch_key, kind, edge_model, body_json, received)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                [(c.id, key, c.kind, c.edge_model, c.model_dump_json(), now) for c in batch.candidates],
            )
        return True

    def unused(self, edge_model: str | None = None) -> list[Candidate]:
        sql = "SELECT body_json FROM candidates WHERE used = 0"
        params: tuple[object, ...] = ()
        if edge_model is not None:
            sql, params = sql + " AND edge_model = ?", (edge_model,)
        return [Candidate.model_validate_json(row["body_json"]) for row in self.db.query(sql + " ORDER BY id", params)]

    def mark_used(self, ids: list[str]) -> None:
        with self.db.transaction() as conn:
            conn.executemany("UPDATE candidates SET used = 1 WHERE id = ?", [(i,) for i in ids])

    def raw_text(self) -> str:
        """Everything stored, as text (for the test that scans it for personal values)."""
        return "\n".join(row["body_json"] for row in self.db.query("SELECT body_json FROM candidates"))

    def stats(self) -> dict[str, Any]:
        rows = self.db.query("SELECT kind, used, COUNT(*) AS n FROM candidates GROUP BY kind, used")
        by_kind: dict[str, dict[str, int]] = {}
        for row in rows:
            by_kind.setdefault(row["kind"], {"unused": 0, "used": 0})["used" if row["used"] else "unused"] += row["n"]
        batches = self.db.query("SELECT COUNT(*) AS n FROM batches")[0]["n"]
        return {"batches": batches, "candidates": by_kind}

    def close(self) -> None:
        self.db.close()


class FeedbackBatchAck(BaseModel):
    """``POST /v1/feedback/batch``: how many candidates were stored (0 for a batch seen before)."""

    object: Literal["feedback.batch"]
    stored: int
    duplicate: bool


class FeedbackStats(BaseModel):
    """``GET /v1/feedback/stats``: batches received, and candidates per kind, used by a refit or not."""

    batches: int
    candidates: dict[str, dict[str, int]]


def add_feedback_routes(app: FastAPI, store: FeedbackStore, max_body_bytes: int) -> None:
    async def batch(request: Request) -> dict[str, Any]:
        from edgesplit.background import run_in_background
        from edgesplit.http.admit import parse_body, read_body

        key = request.headers.get("idempotency-key")
        if not key:
            raise InvalidRequest("a feedback batch needs an idempotency-key header", param="idempotency-key")
        body = parse_body(FeedbackBatch, await read_body(request, max_body_bytes), "a feedback batch")
        stored = await run_in_background(store.add_batch, key, body)
        return {"object": "feedback.batch", "stored": len(body.candidates) if stored else 0, "duplicate": not stored}

    async def stats() -> dict[str, Any]:
        return store.stats()

    app.add_api_route(
        "/v1/feedback/batch",
        batch,
        methods=["POST"],
        response_model=FeedbackBatchAck,
        openapi_extra=json_body(FeedbackBatch),
    )
    app.add_api_route("/v1/feedback/stats", stats, methods=["GET"], response_model=FeedbackStats)
