"""The cloud's result store: a key runs once, replays get the stored answer, conflicts are refused."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from conftest import CLOUD_TOKEN
from edgesplit.errors import IdempotencyConflict
from edgesplit.http.results import ResultStore
from edgesplit.server import NodeServer


def test_claim_complete_replay(tmp_path: Path) -> None:
    store = ResultStore(tmp_path / "r.sqlite")
    assert store.claim("k1", "d1").status == "new"
    with pytest.raises(IdempotencyConflict) as running:
        store.claim("k1", "d1")
    assert running.value.still_running
    store.complete("k1", {"answer": 42})
    replay = store.claim("k1", "d1")
    assert replay.status == "done" and replay.response == {"answer": 42}
    with pytest.raises(IdempotencyConflict) as different:
        store.claim("k1", "other-digest")
    assert not different.value.still_running
    assert store.runs() == {"k1": 1} and store.completed_per_digest() == {"d1": 1}
    assert store.replays() == 1


def test_abandoned_and_crashed_runs_can_be_retried(tmp_path: Path) -> None:
    store = ResultStore(tmp_path / "r.sqlite")
    store.claim("a", "da")
    store.abandon("a")
    assert store.claim("a", "da").status == "new"  # second run allowed
    store.claim("b", "db")
    store.close()  # the cloud dies while "a" and "b" run
    again = ResultStore(tmp_path / "r.sqlite")
    assert again.claim("b", "db").status == "new"
    assert again.runs() == {"a": 2, "b": 2}
    assert again.completed_per_digest() == {}


def _post(cloud: NodeServer, key: str, content: str, **extra: object) -> httpx.Response:
    body = {"model": "default", "messages": [{"role": "user", "content": content}], "max_tokens": 8, **extra}
    headers = {"authorization": f"Bearer {CLOUD_TOKEN}", "idempotency-key": key}
    return httpx.post(f"{cloud.url}/v1/chat/completions", json=body, headers=headers, timeout=60)


def test_cloud_replays_stored_answer(cloud: NodeServer) -> None:
    first = _post(cloud, "test-replay-1", "Tell me a joke.", temperature=1.0)
    second = _post(cloud, "test-replay-1", "Tell me a joke.", temperature=1.0)
    assert first.status_code == second.status_code == 200
    assert first.headers["x-edgesplit-replayed"] == "false" and second.headers["x-edgesplit-replayed"] == "true"
    assert first.json() == second.json()  # same id, same sampled text: it did not run again
    fetched = httpx.get(f"{cloud.url}/v1/results/test-replay-1", headers={"authorization": f"Bearer {CLOUD_TOKEN}"})
    assert fetched.json() == first.json()


def test_cloud_refuses_key_reuse_and_bad_keys(cloud: NodeServer) -> None:
    assert _post(cloud, "test-reuse-1", "Hi").status_code == 200
    reused = _post(cloud, "test-reuse-1", "Something else")
    assert reused.status_code == 422 and reused.json()["error"]["code"] == "idempotency_conflict"
    assert _post(cloud, "bad key with spaces", "Hi").status_code == 400
    assert _post(cloud, "test-stream-1", "Hi", stream=True).status_code == 400
    auth = {"authorization": f"Bearer {CLOUD_TOKEN}"}
    assert httpx.get(f"{cloud.url}/v1/results/never-seen", headers=auth).status_code == 404
