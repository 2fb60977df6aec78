"""transport/sessions.py: every call of one session carries the key its edge chose at open.

``httpx.MockTransport`` (a labelled test double) records the calls; the real routing by that key
is tests/test_ray_serve.py's, through Ray Serve's proxy.
"""

from __future__ import annotations

import asyncio

import httpx
import pytest

from edgesplit.edge.remote_segment import RemoteSegment
from edgesplit.edge.remote_verifier import RemoteVerifier
from edgesplit.errors import UpstreamError, UpstreamTimeout
from edgesplit.transport.sessions import AFFINITY_HEADER, session_lost
from edgesplit.transport.upstream import SessionGone, UpstreamClient


def test_each_call_of_a_session_carries_its_own_key_and_the_replica_is_remembered() -> None:
    seen: list[tuple[str, str, str | None]] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append((request.method, request.url.path, request.headers.get(AFFINITY_HEADER)))
        if request.method == "POST" and request.url.path == "/v1/speculative/sessions":
            opened = {"id": f"spec_{len(seen)}"}
            return httpx.Response(201, json=opened, headers={"x-edgesplit-replica": f"replica-{len(seen)}"})
        return httpx.Response(200, json={"ok": True})

    async def run() -> RemoteVerifier:
        client = UpstreamClient("http://upstream.test", None, 5.0, transport=httpx.MockTransport(handler))
        verifier = RemoteVerifier(client)
        one, two = (await verifier.open({}))["id"], (await verifier.open({}))["id"]
        assert verifier.replicas == {one: "replica-1", two: "replica-2"}
        await verifier.verify(one, "draft")
        await verifier.verify(two, "draft")
        await verifier.close(one)
        await client.aclose()
        return verifier

    verifier = asyncio.run(run())
    keys = {path: key for _, path, key in seen}
    first, second = seen[0][2], seen[1][2]
    assert first and second and first != second  # one key per session
    assert keys["/v1/speculative/sessions/spec_1/verify"] == first
    assert keys["/v1/speculative/sessions/spec_2/verify"] == second
    assert seen[-1] == ("DELETE", "/v1/speculative/sessions/spec_1", first)
    assert list(verifier.replicas) == ["spec_2"]


def test_forget_drops_a_lost_session_without_calling_upstream() -> None:
    calls: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(request.method)
        return httpx.Response(201, json={"id": "split_1"})

    async def run() -> None:
        client = UpstreamClient("http://upstream.test", None, 5.0, transport=httpx.MockTransport(handler))
        segment = RemoteSegment(client)
        await segment.open({})
        key = segment.forget("split_1")
        assert len(key) == 32 and segment.replicas == {} and calls == ["POST"]
        await client.aclose()

    asyncio.run(run())


@pytest.mark.parametrize(
    ("error", "lost"),
    [
        (SessionGone("gone", status_code=404), True),
        (UpstreamError("replica died", status_code=500), True),
        (UpstreamError("bad gateway", status_code=502), True),
        (UpstreamError("unavailable", status_code=503), True),
        (UpstreamError("bad frame", status_code=400), False),
        (UpstreamTimeout("slow"), False),  # waiting again would double the wait, not help
        (UpstreamError("refused"), False),
    ],
)
def test_what_counts_as_a_lost_session(error: UpstreamError, lost: bool) -> None:
    assert session_lost(error) is lost
