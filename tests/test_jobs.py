"""Deferred work end to end: 202 + job id, delivery over a link that goes down and comes back, the jobs API."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from typer.testing import CliRunner

from conftest import CLOUD_TOKEN, EdgeFactory
from doubles import failing_upstream
from edgesplit.cli import app
from edgesplit.server import AppServer, NodeServer
from edgesplit.transport.netem import LinkEmulator, LinkProfile

HI = [{"role": "user", "content": "Say hi."}]
FAST_RETRY = {"outbox_backoff_s": 0.05, "outbox_max_backoff_s": 0.3, "link_backoff_s": 0.1, "link_max_backoff_s": 0.3}


def _submit(edge: NodeServer, **body: Any) -> httpx.Response:
    payload = {"model": "edgesplit/auto", "messages": HI, "max_tokens": 6, **body}
    return httpx.post(f"{edge.url}/v1/chat/completions", json=payload, headers={"x-edgesplit-priority": "batch"})


def _wait_status(edge: NodeServer, job_id: str, status: str, timeout_s: float = 30) -> dict[str, Any]:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        job: dict[str, Any] = httpx.get(f"{edge.url}/v1/jobs/{job_id}").json()
        if job["status"] == status:
            return job
        time.sleep(0.05)
    raise AssertionError(f"job {job_id} did not reach {status}: {job}")


@pytest.fixture
def linked(make_edge: EdgeFactory, cloud: NodeServer) -> Iterator[tuple[NodeServer, LinkEmulator]]:
    port = int(cloud.url.rsplit(":", 1)[1])
    with LinkEmulator("127.0.0.1", port, LinkProfile("test", latency_ms=1)) as link:
        edge = make_edge(upstream=link.url, upstream_token=CLOUD_TOKEN, upstream_timeout_s=1, **FAST_RETRY)
        yield edge, link


def test_batch_request_is_accepted_then_delivered(linked: tuple[NodeServer, LinkEmulator]) -> None:
    edge, _ = linked
    response = _submit(edge)
    assert response.status_code == 202
    job = response.json()
    assert job["object"] == "edgesplit.job" and response.headers["location"] == f"/v1/jobs/{job['id']}"
    done = _wait_status(edge, job["id"], "done")
    assert done["result"]["choices"][0]["message"]["content"]
    assert done["result"]["object"] == "chat.completion"


def test_jobs_wait_for_the_link_and_are_delivered_when_it_returns(linked: tuple[NodeServer, LinkEmulator]) -> None:
    edge, link = linked
    link.outage("refuse")
    ids = [_submit(edge, messages=[{"role": "user", "content": f"Say {i}."}]).json()["id"] for i in range(5)]
    time.sleep(0.5)
    statuses = {httpx.get(f"{edge.url}/v1/jobs/{i}").json()["status"] for i in ids}
    assert statuses <= {"queued", "delivering"}
    queued = httpx.get(f"{edge.url}/v1/jobs", params={"status": "queued"}).json()
    assert any(job["last_error"] for job in queued["data"])  # attempts were made and failed
    link.restore()
    for job_id in ids:
        assert _wait_status(edge, job_id, "done")["result"]["choices"]


def test_permanent_failure_is_not_retried(make_edge: EdgeFactory) -> None:
    with AppServer(failing_upstream(400)) as bad:
        edge = make_edge(upstream=bad.url, **FAST_RETRY)
        job = _submit(edge).json()
        failed = _wait_status(edge, job["id"], "failed")
    assert failed["attempts"] == 1 and "400" in failed["last_error"] and "boom" in failed["last_error"]


def test_server_errors_are_retried_with_backoff(make_edge: EdgeFactory) -> None:
    with AppServer(failing_upstream(503)) as bad:
        edge = make_edge(upstream=bad.url, **FAST_RETRY)
        job_id = _submit(edge).json()["id"]
        deadline = time.monotonic() + 10
        while httpx.get(f"{edge.url}/v1/jobs/{job_id}").json()["attempts"] < 3:
            assert time.monotonic() < deadline
            time.sleep(0.05)
        job = httpx.get(f"{edge.url}/v1/jobs/{job_id}").json()
    assert job["status"] in ("queued", "delivering") and "503" in job["last_error"]


def test_outbox_full_answers_507(make_edge: EdgeFactory) -> None:
    edge = make_edge(upstream="http://127.0.0.1:9", outbox_max_rows=2, outbox_backoff_s=60)
    assert [_submit(edge).status_code for _ in range(2)] == [202, 202]
    full = _submit(edge)
    assert full.status_code == 507 and full.json()["error"]["code"] == "outbox_full"


def test_defer_or_error_when_cloud_unavailable(make_edge: EdgeFactory) -> None:
    edge = make_edge(upstream="http://127.0.0.1:9", outbox_backoff_s=60)
    body = {"model": "edgesplit/cloud", "messages": HI, "max_tokens": 4}
    deferred = httpx.post(
        f"{edge.url}/v1/chat/completions", json={**body, "edgesplit": {"on_cloud_unavailable": "defer"}}
    )
    assert deferred.status_code == 202 and deferred.json()["status"] == "queued"
    refused = httpx.post(
        f"{edge.url}/v1/chat/completions", json=body, headers={"x-edgesplit-on-cloud-unavailable": "error"}
    )
    assert refused.status_code == 502 and "unreachable" in refused.json()["error"]["message"]
    fallback = httpx.post(f"{edge.url}/v1/chat/completions", json=body)
    assert fallback.status_code == 200 and fallback.json()["edgesplit"]["fallback"] is True


def test_callback_receives_the_finished_job(linked: tuple[NodeServer, LinkEmulator]) -> None:
    edge, _ = linked
    received: list[dict[str, Any]] = []
    arrived = threading.Event()

    async def hook(request: Request) -> Response:
        received.append(await request.json())
        arrived.set()
        return JSONResponse({})

    with AppServer(Starlette(routes=[Route("/cb", hook, methods=["POST"])])) as sink:
        job = _submit(edge, edgesplit={"callback_url": f"{sink.url}/cb"}).json()
        assert arrived.wait(30)
    assert received[0]["id"] == job["id"] and received[0]["status"] == "done"


def test_job_api_bad_inputs(linked: tuple[NodeServer, LinkEmulator]) -> None:
    edge, _ = linked
    assert httpx.get(f"{edge.url}/v1/jobs/job_{'0' * 32}").status_code == 404
    assert httpx.get(f"{edge.url}/v1/jobs/not-a-job").json()["error"]["code"] == "invalid_job_id"
    assert httpx.get(f"{edge.url}/v1/jobs", params={"status": "lost"}).status_code == 400
    assert httpx.get(f"{edge.url}/v1/jobs", params={"limit": "0"}).status_code == 400
    assert _submit(edge, stream=True).status_code == 400
    bad_priority = httpx.post(
        f"{edge.url}/v1/chat/completions",
        json={"model": "edgesplit/auto", "messages": HI},
        headers={"x-edgesplit-priority": "urgent"},
    )
    assert bad_priority.status_code == 400
    assert _submit(edge, edgesplit={"callback_url": "ftp://x"}).status_code == 400


def test_batch_without_upstream_is_refused(make_edge: EdgeFactory) -> None:
    response = _submit(make_edge())
    assert response.status_code == 400 and response.json()["error"]["code"] == "no_upstream"


def test_jobs_cli_lists_and_shows(linked: tuple[NodeServer, LinkEmulator]) -> None:
    edge, _ = linked
    job_id = _submit(edge).json()["id"]
    _wait_status(edge, job_id, "done")
    listing = CliRunner().invoke(app, ["jobs", "--url", edge.url])
    assert listing.exit_code == 0 and job_id in listing.output and "done" in listing.output
    shown = CliRunner().invoke(app, ["jobs", job_id, "--url", edge.url])
    assert shown.exit_code == 0 and '"status": "done"' in shown.output
    missing = CliRunner().invoke(app, ["jobs", f"job_{'1' * 32}", "--url", edge.url])
    assert missing.exit_code == 1 and "no job" in missing.output
