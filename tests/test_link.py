"""Circuit-breaker transitions on a fake clock, and the edge answering at once when the link is open."""

from __future__ import annotations

import time
from collections.abc import Callable

import httpx

from conftest import CLOUD_TOKEN, EdgeFactory, chat
from edgesplit.server import NodeServer
from edgesplit.transport.link import BreakerState, LinkMonitor
from edgesplit.transport.netem import LinkEmulator, LinkProfile


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def _monitor(clock: Clock, changes: list[BreakerState] | None = None) -> LinkMonitor:
    return LinkMonitor(
        failure_threshold=3,
        backoff_s=10,
        max_backoff_s=35,
        clock=clock,
        on_change=None if changes is None else changes.append,
    )


def test_opens_after_consecutive_failures_only() -> None:
    clock, changes = Clock(), []
    link = _monitor(clock, changes)
    link.record_failure()
    link.record_failure()
    link.record_success(20.0)  # resets the count
    link.record_failure()
    link.record_failure()
    assert link.state is BreakerState.CLOSED and link.allow()
    link.record_failure()
    assert link.state is BreakerState.OPEN and not link.allow()
    assert changes == [BreakerState.OPEN]


def test_half_open_probe_closes_on_success() -> None:
    clock, changes = Clock(), []
    link = _monitor(clock, changes)
    for _ in range(3):
        link.record_failure()
    clock.now += 13  # past the 10 s backoff (+-20% jitter)
    assert link.allow()  # the probe
    assert link.state is BreakerState.HALF_OPEN
    assert not link.allow()  # one probe at a time
    link.record_success(15.0)
    assert link.state is BreakerState.CLOSED and link.allow()
    assert changes == [BreakerState.OPEN, BreakerState.HALF_OPEN, BreakerState.CLOSED]


def test_failed_probe_reopens_with_doubled_capped_backoff() -> None:
    clock = Clock()
    link = _monitor(clock)
    for _ in range(3):
        link.record_failure()
    clock.now += 13
    assert link.allow()
    link.record_failure()
    assert link.state is BreakerState.OPEN
    assert 16 <= link.snapshot().retry_in_s <= 24  # 20 s +-20%
    clock.now += 25
    assert link.allow()
    link.record_failure()
    assert 28 <= link.snapshot().retry_in_s <= 42  # capped at 35 s +-20%


def test_rtt_and_error_rate_are_smoothed() -> None:
    link = _monitor(Clock())
    link.record_success(100.0)
    link.record_success(200.0)
    assert link.rtt_ms is not None and 100 < link.rtt_ms < 200
    link.record_failure()
    assert 0 < link.error_rate < 1


def test_open_circuit_answers_at_once(make_edge: EdgeFactory, cloud: NodeServer) -> None:
    port = int(cloud.url.rsplit(":", 1)[1])
    with LinkEmulator("127.0.0.1", port, LinkProfile("test", latency_ms=1)) as link:
        timeout_s = 3.0  # far above a 4-token local answer even on a loaded machine
        edge = make_edge(
            upstream=link.url, upstream_token="test-cloud-token", upstream_timeout_s=timeout_s,
            link_failure_threshold=1, link_backoff_s=60, link_probe_interval_s=0,
        )  # fmt: skip
        assert chat(edge, "Hi", model="edgesplit/cloud").model_extra["edgesplit"]["route"] == "cloud"
        link.outage("blackhole")
        start = time.perf_counter()
        assert chat(edge, "Hi", model="edgesplit/cloud").model_extra["edgesplit"]["fallback"] is True
        assert time.perf_counter() - start >= timeout_s  # this one waited for the upstream, then fell back
        start = time.perf_counter()
        meta = chat(edge, "Hi", model="edgesplit/cloud", max_tokens=4).model_extra["edgesplit"]
        elapsed = time.perf_counter() - start
        assert meta["fallback"] is True and "circuit open" in meta["upstream_error"]
        assert elapsed < timeout_s  # the open circuit answered without waiting for the upstream
        link.restore()


def _wait_for(condition: Callable[[], bool], timeout_s: float = 15) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.05)


def test_probes_measure_rtt_and_bandwidth(make_edge: EdgeFactory, cloud: NodeServer) -> None:
    port = int(cloud.url.rsplit(":", 1)[1])
    with LinkEmulator("127.0.0.1", port, LinkProfile("test", latency_ms=20, bandwidth_mbps=8)) as link:
        edge = make_edge(
            upstream=link.url, upstream_token=CLOUD_TOKEN, link_probe_interval_s=0.2, link_probe_bytes=256 * 1024
        )
        monitor: LinkMonitor = edge.node.link  # type: ignore[attr-defined]
        _wait_for(lambda: monitor.bandwidth_mbps is not None)
        snap = monitor.snapshot()
    assert snap.rtt_ms is not None and 35 <= snap.rtt_ms <= 90, snap  # 2 x 20 ms, plus serving
    assert snap.bandwidth_mbps is not None and 5 <= snap.bandwidth_mbps <= 11, snap
    metrics = httpx.get(f"{edge.url}/metrics").text
    assert "edgesplit_link_bandwidth_mbps" in metrics and "edgesplit_link_rtt_seconds" in metrics


def test_probe_closes_the_breaker_when_the_link_returns(make_edge: EdgeFactory, cloud: NodeServer) -> None:
    port = int(cloud.url.rsplit(":", 1)[1])
    with LinkEmulator("127.0.0.1", port, "lan") as link:
        link.outage("refuse")
        edge = make_edge(
            upstream=link.url,
            upstream_token=CLOUD_TOKEN,
            link_probe_interval_s=0.1,
            link_backoff_s=0.1,
            link_max_backoff_s=0.2,
        )
        monitor: LinkMonitor = edge.node.link  # type: ignore[attr-defined]
        _wait_for(lambda: monitor.state is BreakerState.OPEN)
        link.restore()
        _wait_for(lambda: monitor.state is BreakerState.CLOSED)  # no client request needed
    assert 'edgesplit_link_state{edgesplit_link_state="closed"} 1.0' in httpx.get(f"{edge.url}/metrics").text


def test_probe_endpoint_checks_input_and_auth(cloud: NodeServer) -> None:
    auth = {"authorization": f"Bearer {CLOUD_TOKEN}"}
    ok = httpx.get(f"{cloud.url}/v1/link/probe", params={"bytes": 1000}, headers=auth)
    assert ok.status_code == 200 and len(ok.content) == 1000
    assert httpx.get(f"{cloud.url}/v1/link/probe", params={"bytes": 0}, headers=auth).status_code == 400
    assert httpx.get(f"{cloud.url}/v1/link/probe", params={"bytes": "lots"}, headers=auth).status_code == 400
    assert httpx.get(f"{cloud.url}/v1/link/probe").status_code == 401


def test_what_counts_against_the_link() -> None:
    from edgesplit.transport.link import counts_against_link

    assert counts_against_link(None) and counts_against_link(500) and counts_against_link(503)
    assert not any(counts_against_link(s) for s in (200, 400, 401, 404, 413, 422, 429))


def test_a_busy_cloud_does_not_open_the_circuit_a_failing_one_does(make_edge: EdgeFactory) -> None:
    """The edge and the delivery worker agree: a 429 is an answer (fall back, keep the link), a 503 is not."""
    from doubles import failing_upstream
    from edgesplit.server import AppServer

    states = {}
    for status in (429, 503):
        with AppServer(failing_upstream(status)) as upstream:
            edge = make_edge(upstream=upstream.url, link_probe_interval_s=0)
            for _ in range(4):
                assert chat(edge, "Hi", model="edgesplit/cloud", max_tokens=2).model_extra["edgesplit"]["fallback"]
            states[status] = edge.node.link.state  # type: ignore[attr-defined]
    assert states == {429: BreakerState.CLOSED, 503: BreakerState.OPEN}
