"""The feedback loop: hard cases recorded on the edge (redacted), delivered once, refit on the cloud.

Real edges and a real cloud on loopback; candidates travel through the real outbox and delivery
worker. The refit test labels with real models (SmolLM2 at both tiers, to stay quick) and fits
on a synthetic results store whose held-out split is fixed.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from typer.testing import CliRunner

from conftest import EDGE_MODEL, SYNC_TOKEN, EdgeFactory, chat, repository
from edgesplit.cli import app
from edgesplit.cloud.feedback import FeedbackBatch, FeedbackStore
from edgesplit.evaluation.calibrate import SplitOutcome
from edgesplit.evaluation.feedback import compare
from edgesplit.evaluation.results import EvalResults
from edgesplit.server import NodeServer
from eval_data import synthetic_records
from test_privacy import STRUCTURED


def feedback_edge(make_edge: EdgeFactory, cloud: NodeServer, **overrides: Any) -> NodeServer:
    overrides = {"feedback_batch": 2, "feedback_flush_s": 0, "link_probe_interval_s": 0, **overrides}
    return make_edge(upstream=cloud.url, upstream_token=SYNC_TOKEN, **overrides)


def store_of(cloud: NodeServer) -> FeedbackStore:
    return cloud.node.feedback_store  # type: ignore[attr-defined, no-any-return]


def wait_for_candidates(cloud: NodeServer, n: int, timeout_s: float = 60) -> dict[str, Any]:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        counts = store_of(cloud).stats()["candidates"]
        if sum(row["unused"] + row["used"] for row in counts.values()) >= n:
            return counts  # type: ignore[no-any-return]
        time.sleep(0.1)
    raise AssertionError(f"fewer than {n} candidates arrived: {store_of(cloud).stats()}")


def test_escalated_requests_arrive_redacted_and_once(sync_cloud: NodeServer, make_edge: EdgeFactory) -> None:
    from edgesplit.evaluation.pii_corpus import unseen_corpus

    edge = feedback_edge(make_edge, sync_cloud, cascade_threshold=0.0)  # every auto request escalates
    messages = unseen_corpus(6)
    for message in messages:
        info = chat(edge, message.text, max_tokens=4).model_extra["edgesplit"]
        assert info["rule"] == "cascade-escalated"
    counts = wait_for_candidates(sync_cloud, len(messages))
    assert counts["escalated"]["unused"] == len(messages)
    stored = store_of(sync_cloud).raw_text()
    leaked = [
        text[label.start : label.end]
        for text, labels in ((m.text, m.labels) for m in messages)
        for label in labels
        if label.type in STRUCTURED and text[label.start : label.end] in stored
    ]
    assert leaked == []
    assert "<" in stored  # placeholders stand where the values were


def test_a_batch_retried_with_its_key_is_stored_once(sync_cloud: NodeServer) -> None:
    body = {"candidates": [{"id": "fb_1", "kind": "escalated", "edge_model": EDGE_MODEL,
                            "messages": [{"role": "user", "content": "hi"}]}]}  # fmt: skip
    headers = {"authorization": f"Bearer {SYNC_TOKEN}", "idempotency-key": "idem_same"}
    first = httpx.post(f"{sync_cloud.url}/v1/feedback/batch", json=body, headers=headers).json()
    again = httpx.post(f"{sync_cloud.url}/v1/feedback/batch", json=body, headers=headers).json()
    assert (first["stored"], first["duplicate"]) == (1, False)
    assert (again["stored"], again["duplicate"]) == (0, True)
    assert store_of(sync_cloud).stats()["batches"] == 1
    no_key = httpx.post(
        f"{sync_cloud.url}/v1/feedback/batch", json=body, headers={"authorization": headers["authorization"]}
    )
    assert no_key.status_code == 400


def test_a_kept_answer_marked_bad_and_a_shadow_sample_are_sent_up(
    sync_cloud: NodeServer, make_edge: EdgeFactory
) -> None:
    edge = feedback_edge(make_edge, sync_cloud, cascade_threshold=-100.0, feedback_shadow_rate=1.0)
    reply = chat(edge, "My email is ana.souza@example.org. What is a router?", max_tokens=6)
    assert reply.model_extra["edgesplit"]["rule"] == "cascade-kept"
    marked = httpx.post(f"{edge.url}/v1/feedback", json={"response_id": reply.id, "rating": "bad"})
    assert marked.status_code == 200, marked.text
    unknown = httpx.post(f"{edge.url}/v1/feedback", json={"response_id": "chatcmpl-nope", "rating": "bad"})
    assert unknown.status_code == 404 and unknown.json()["error"]["code"] == "response_not_found"
    counts = wait_for_candidates(sync_cloud, 2)
    assert counts["shadow"]["unused"] == 1 and counts["marked_bad"]["unused"] == 1
    stored = store_of(sync_cloud).raw_text()
    assert "ana.souza@example.org" not in stored and "<EMAIL_ADDRESS_1>" in stored
    batch = FeedbackBatch.model_validate_json('{"candidates": [' + stored.splitlines()[0] + "]}")
    assert batch.candidates[0].answer is not None  # the local answer went with it, redacted


def test_the_feedback_option_of_a_later_request_marks_an_answer(sync_cloud: NodeServer, make_edge: EdgeFactory) -> None:
    edge = feedback_edge(make_edge, sync_cloud, cascade_threshold=-100.0, feedback_shadow_rate=0.0, feedback_batch=1)
    first = chat(edge, "What is a hash map?", max_tokens=6)
    chat(edge, "That was wrong.", max_tokens=4, extra_body={"edgesplit": {"feedback": {"response_id": first.id,
                                                                                        "rating": "bad"}}})  # fmt: skip
    assert wait_for_candidates(sync_cloud, 1)["marked_bad"]["unused"] == 1


def _outcome(share: float, quality: float) -> SplitOutcome:
    return SplitOutcome(items=50, edge_share=share, quality=quality, oracle_share_at_quality=0.7)


@pytest.mark.parametrize(
    ("candidate", "current", "publish"),
    [((0.40, 0.985), (0.30, 0.99), True), ((0.25, 0.99), (0.30, 0.99), False), ((0.50, 0.95), (0.30, 0.99), False)],
)
def test_a_refit_is_published_only_when_it_is_not_worse_held_out(
    candidate: tuple[float, float], current: tuple[float, float], publish: bool
) -> None:
    assert compare(_outcome(*candidate), _outcome(*current), 0.98)[0] is publish


def test_refit_labels_candidates_and_publishes_a_router_the_edges_pick_up(
    sync_cloud: NodeServer, keys: Path, make_edge: EdgeFactory, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    db = tmp_path / "results.db"
    results = EvalResults(db)
    for record in synthetic_records(60):
        results.add_record(record)
    results.close()
    body = {"candidates": [{"id": f"fb_{i}", "kind": "escalated", "edge_model": EDGE_MODEL,
                            "messages": [{"role": "user", "content": f"Write a python function number {i}"}]}
                           for i in range(2)]}  # fmt: skip
    store_of(sync_cloud).add_batch("idem_refit", FeedbackBatch.model_validate(body))
    monkeypatch.setenv("EDGESPLIT_DATA_DIR", str(sync_cloud.node.settings.resolved_data_dir()))
    monkeypatch.setenv("EDGESPLIT_SYNC_KEYS_DIR", str(keys))
    monkeypatch.setenv("EDGESPLIT_MODEL", EDGE_MODEL)  # the labelling tier: small, to stay quick
    args = [
        "feedback",
        "refit",
        "--db",
        str(db),
        "--edge-model",
        EDGE_MODEL,
        "--max-tokens",
        "8",
        "--min-quality",
        "0.9",
    ]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    assert "2 candidates labelled" in result.output
    assert store_of(sync_cloud).stats()["candidates"]["escalated"] == {"unused": 0, "used": 2}
    labelled = EvalResults(db)
    assert {r.key for r in labelled.records() if r.set == "feedback"} == {"feedback/fb_0", "feedback/fb_1"}
    assert all(r.split == "calib" for r in labelled.records() if r.set == "feedback")
    labelled.close()
    if "published as bundle" in result.output:  # the refit met the floor: the edges get it by sync
        manifest = repository(sync_cloud).current()
        assert manifest is not None and manifest.tiers["device"].router is not None
