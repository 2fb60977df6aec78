"""transport/upstream.py: the one client every upstream call goes through, over in-process transports.

``httpx.MockTransport`` (a labelled test double) stands where the network would be, so these
tests need no server; the real-server paths are covered by test_link, test_split, test_speculative
and test_offline_fault, which go through the same client.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from edgesplit.edge.delivery import DeliveryWorker
from edgesplit.edge.outbox import Outbox
from edgesplit.edge.remote_segment import RemoteSegment
from edgesplit.errors import UpstreamError, UpstreamTimeout
from edgesplit.generation import Finish, GenerationParams, Prompt, TokenEvent
from edgesplit.planner.split import measure_link
from edgesplit.transport.link import BreakerState, LinkMonitor
from edgesplit.transport.probe import LinkProber
from edgesplit.transport.remote import RemoteBackend
from edgesplit.transport.upstream import SessionGone, UpstreamClient

Handler = Callable[[httpx.Request], httpx.Response]


def client_for(handler: Handler, timeout_s: float = 5.0) -> UpstreamClient:
    return UpstreamClient("http://upstream.test", "s3cret", timeout_s, transport=httpx.MockTransport(handler))


def answering(status: int, body: object = None) -> Handler:
    return lambda request: httpx.Response(status, json=body if body is not None else {})


def refusing(request: httpx.Request) -> httpx.Response:
    raise httpx.ConnectError("connection refused", request=request)


def test_every_call_carries_the_bearer_token_and_the_base_url() -> None:
    seen: list[httpx.Request] = []

    def record(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={"id": "s1"})

    async def run() -> None:
        client = client_for(record)
        await RemoteSegment(client).open({"k": 3})
        await client.aclose()

    asyncio.run(run())
    assert seen[0].headers["authorization"] == "Bearer s3cret"
    assert str(seen[0].url) == "http://upstream.test/v1/split/sessions"


@pytest.mark.parametrize(
    ("handler", "error", "status"),
    [
        (refusing, UpstreamError, None),
        (answering(503, {"error": {"message": "overloaded"}}), UpstreamError, 503),
        (answering(429, {"error": {"message": "slow down"}}), UpstreamError, 429),
        (answering(404, {"error": {"code": "session_not_found", "message": "gone"}}), SessionGone, 404),
    ],
)
def test_call_maps_each_outcome_onto_the_error_tree(
    handler: Handler, error: type[Exception], status: int | None
) -> None:
    async def run() -> UpstreamError:
        client = client_for(handler)
        try:
            with pytest.raises(error) as caught:
                await client.call("POST", "/v1/split/sessions", what="split upstream")
        finally:
            await client.aclose()
        assert isinstance(caught.value, UpstreamError)
        return caught.value

    exc = asyncio.run(run())
    assert exc.status_code == status
    assert "split upstream" in str(exc)


def test_a_slow_answer_is_an_upstream_timeout() -> None:
    """The mock transport enforces no limit, so it raises what httpx's own transport raises at one."""

    def slow(request: httpx.Request) -> httpx.Response:
        assert request.extensions["timeout"]["read"] == 0.05  # the client's limit reaches the transport
        raise httpx.ReadTimeout("timed out", request=request)

    async def run() -> None:
        client = UpstreamClient("http://upstream.test", None, 0.05, transport=httpx.MockTransport(slow))
        try:
            with pytest.raises(UpstreamTimeout, match=r"0\.05 s"):
                await client.call("GET", "/healthz")
        finally:
            await client.aclose()

    asyncio.run(run())


def test_close_session_ignores_a_session_already_gone() -> None:
    async def run() -> None:
        client = client_for(answering(404, {"error": {"code": "session_not_found"}}))
        await RemoteSegment(client).close("s1")  # no exception: expiry frees it anyway
        await client.aclose()

    asyncio.run(run())


def _sse(*chunks: dict[str, object]) -> bytes:
    lines = [f"data: {json.dumps(chunk)}\n\n" for chunk in chunks]
    return ("".join(lines) + "data: [DONE]\n\n").encode()


def test_remote_backend_reads_an_openai_stream_through_the_shared_client() -> None:
    body = _sse(
        {"choices": [{"delta": {"content": "Hel"}}]},
        {"choices": [{"delta": {"content": "lo"}, "finish_reason": "stop"}]},
        {"choices": [], "usage": {"prompt_tokens": 7, "completion_tokens": 2}},
    )
    requests: list[dict[str, object]] = []

    def stream(request: httpx.Request) -> httpx.Response:
        requests.append(json.loads(request.content))
        return httpx.Response(200, content=body, headers={"content-type": "text/event-stream"})

    async def run() -> list[TokenEvent | Finish]:
        client = client_for(stream)
        backend = RemoteBackend(client, "cloud-model")
        events = [e async for e in backend.stream(Prompt(messages=(("user", "hi"),)), GenerationParams(max_tokens=4))]
        await client.aclose()
        return events

    events = asyncio.run(run())
    assert [e.text for e in events if isinstance(e, TokenEvent)] == ["Hel", "lo"]
    finish = events[-1]
    assert isinstance(finish, Finish) and finish.reason == "stop"
    assert (finish.prompt_tokens, finish.completion_tokens) == (7, 2)
    assert requests[0]["model"] == "cloud-model" and requests[0]["stream"] is True


def test_remote_backend_reports_the_upstreams_error_message_and_status() -> None:
    async def run() -> None:
        client = client_for(answering(401, {"error": {"message": "bad token"}}))
        backend = RemoteBackend(client, "m")
        try:
            with pytest.raises(UpstreamError, match="401: bad token") as caught:
                async for _ in backend.stream(Prompt(text="x"), GenerationParams(max_tokens=1)):
                    pass
            assert caught.value.status_code == 401
        finally:
            await client.aclose()

    asyncio.run(run())


def _probe_handler(status: int = 200) -> Handler:
    def handle(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/v1/link/probe":
            return httpx.Response(status, content=b"\0" * int(request.url.params["bytes"]))
        return httpx.Response(status, json={"ok": True})

    return handle


def test_the_prober_and_the_planner_measure_through_the_same_client() -> None:
    async def run() -> tuple[LinkMonitor, float]:
        client = client_for(_probe_handler())
        monitor = LinkMonitor()
        await LinkProber(monitor, client, interval_s=60, probe_bytes=4096).probe_once()
        estimate = await measure_link(client, probe_bytes=4096, repeats=2)
        await client.aclose()
        return monitor, estimate.bandwidth_mbps

    monitor, planner_mbps = asyncio.run(run())
    assert monitor.rtt_ms is not None and monitor.bandwidth_mbps is not None and monitor.bandwidth_mbps > 0
    assert planner_mbps > 0


@pytest.mark.parametrize(("status", "opens"), [(429, False), (401, False), (503, True)])
def test_prober_and_delivery_agree_on_what_counts_against_the_link(tmp_path: Path, status: int, opens: bool) -> None:
    """One rule for both: a 4xx (429 included) says the tier is there; a 5xx or no answer counts."""

    async def probe() -> BreakerState:
        client = client_for(_probe_handler(status))
        monitor = LinkMonitor(failure_threshold=2)
        prober = LinkProber(monitor, client, interval_s=60)
        for _ in range(3):
            await prober.probe_once()
        await client.aclose()
        return monitor.state

    async def deliver() -> BreakerState:
        client = client_for(answering(status, {"error": {"message": "no"}}))
        monitor = LinkMonitor(failure_threshold=2)
        outbox = Outbox(tmp_path / f"outbox-{status}.sqlite")
        worker = DeliveryWorker(outbox, client, monitor, timeout_s=5, backoff_s=0.0)
        try:
            for _ in range(3):
                job = outbox.enqueue("chat", {"messages": [{"role": "user", "content": "hi"}]}, None)
                await worker._deliver(job.id, f"key-{job.id}", "chat", {"messages": []})
        finally:
            outbox.close()
            await client.aclose()
        return monitor.state

    assert (asyncio.run(probe()) is BreakerState.OPEN) is opens
    assert (asyncio.run(deliver()) is BreakerState.OPEN) is opens


def test_delivery_counts_a_refused_connection_and_keeps_the_job(tmp_path: Path) -> None:
    async def run() -> tuple[BreakerState, str]:
        client = client_for(refusing)
        monitor = LinkMonitor(failure_threshold=1)
        outbox = Outbox(tmp_path / "outbox.sqlite")
        worker = DeliveryWorker(outbox, client, monitor, timeout_s=5)
        job = outbox.enqueue("chat", {"messages": [{"role": "user", "content": "hi"}]}, None)
        await worker._deliver(job.id, "key", "chat", {"messages": []})
        record = outbox.get(job.id)
        outbox.close()
        await client.aclose()
        assert record is not None
        return monitor.state, record.status

    state, status = asyncio.run(run())
    assert state is BreakerState.OPEN
    assert status == "queued"  # retried later, not lost
