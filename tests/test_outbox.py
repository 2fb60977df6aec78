"""The outbox on disk: durable enqueue, state transitions, limits, crash recovery, migrations."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from edgesplit.edge.outbox import MIGRATIONS, Outbox
from edgesplit.errors import OutboxFull

REQUEST = {"model": "default", "messages": [{"role": "user", "content": "hi"}]}


def test_enqueue_survives_reopen(tmp_path: Path) -> None:
    box = Outbox(tmp_path / "o.sqlite")
    job = box.enqueue("chat", REQUEST, callback_url="http://127.0.0.1:9/cb")
    box.close()  # like a process exit: nothing kept in memory
    again = Outbox(tmp_path / "o.sqlite")
    stored = again.get(job.id)
    assert stored is not None and stored.status == "queued" and stored.callback_url == "http://127.0.0.1:9/cb"
    assert again.db.version == len(MIGRATIONS)


def test_claim_done_retry_fail(tmp_path: Path) -> None:
    box = Outbox(tmp_path / "o.sqlite")
    a, b, c = (box.enqueue("chat", {**REQUEST, "n_job": i}) for i in range(3))
    claimed = box.claim_due(2)
    assert [row[0] for row in claimed] == [a.id, b.id]  # oldest first
    assert claimed[0][3]["n_job"] == 0 and claimed[0][1].startswith("idem_")
    assert box.claim_due(5)[0][0] == c.id  # the others are already being delivered
    box.mark_done(a.id, {"choices": []})
    box.mark_retry(b.id, "boom", delay_s=60)
    box.mark_failed(c.id, "refused (400)")
    assert box.get(a.id).status == "done" and box.get(a.id).result == {"choices": []}  # type: ignore[union-attr]
    retried = box.get(b.id)
    assert retried is not None and retried.status == "queued" and retried.attempts == 1 and retried.last_error == "boom"
    assert box.claim_due(5) == []  # not due for a minute
    assert 50 < (box.next_due_in_s() or 0) <= 60
    assert box.get(c.id).status == "failed"  # type: ignore[union-attr]
    assert box.counts() == {"done": 1, "queued": 1, "failed": 1}


def test_jobs_caught_delivering_are_requeued_at_start(tmp_path: Path) -> None:
    box = Outbox(tmp_path / "o.sqlite")
    job = box.enqueue("text", {"model": "default", "prompt": "x"})
    box.claim_due(1)
    assert box.get(job.id).status == "delivering"  # type: ignore[union-attr]
    box.close()
    assert Outbox(tmp_path / "o.sqlite").get(job.id).status == "queued"  # type: ignore[union-attr]


def test_row_and_byte_limits(tmp_path: Path) -> None:
    box = Outbox(tmp_path / "o.sqlite", max_rows=2)
    box.enqueue("chat", REQUEST)
    box.enqueue("chat", REQUEST)
    with pytest.raises(OutboxFull, match="2 pending jobs"):
        box.enqueue("chat", REQUEST)
    small = Outbox(tmp_path / "small.sqlite", max_bytes=1024)
    with pytest.raises(OutboxFull, match="bytes"):
        small.enqueue("chat", {**REQUEST, "pad": "x" * 2000})
    assert small.counts() == {}  # nothing half-stored


def test_finished_jobs_do_not_count_against_limits(tmp_path: Path) -> None:
    box = Outbox(tmp_path / "o.sqlite", max_rows=1)
    job = box.enqueue("chat", REQUEST)
    box.claim_due(1)
    box.mark_done(job.id, {})
    box.enqueue("chat", REQUEST)  # room again


def test_migration_from_version_one(tmp_path: Path) -> None:
    path = tmp_path / "old.sqlite"
    conn = sqlite3.connect(path)
    MIGRATIONS[0](conn)
    conn.execute("PRAGMA user_version=1")
    conn.execute(
        "INSERT INTO jobs (id, idempotency_key, kind, request_json, size_bytes, status, created, next_attempt_at)"
        " VALUES ('job_' || hex(randomblob(16)), 'k', 'chat', '{}', 2, 'queued', 0, 0)"
    )
    conn.commit()
    conn.close()
    box = Outbox(path)
    assert box.db.version == len(MIGRATIONS)
    [job] = box.jobs()
    assert job.callback_url is None and job.status == "queued"
