"""The cloud tier on Ray Serve (cloud/ray_serve.py): a real local Ray, two replicas, the real proxy.

Ray starts once for the module (about 10 s, then 30-40 s until both replicas have loaded their
models). Each replica runs the small model with one thread, as on a 2-core machine.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from conftest import EDGE_MODEL, free_port
from edgesplit.admission import ModelQueue
from edgesplit.config import Settings, load_settings
from edgesplit.edge.remote_verifier import RemoteVerifier
from edgesplit.edge.speculative import SpeculativeBackend
from edgesplit.llama.backend import LocalBackend
from edgesplit.models import locate_model
from edgesplit.server import NodeServer
from edgesplit.transport.upstream import UpstreamClient
from test_speculative import _generate
from test_split import ALLOW, PROMPT, _engine_greedy

# Ray's own modules warn about the pydantic and asyncio APIs they use: not this project's to fix
pytestmark = [pytest.mark.ray, pytest.mark.filterwarnings("ignore::DeprecationWarning")]

TOKEN = "ray-test-token"
AUTH = {"authorization": f"Bearer {TOKEN}"}
OPEN = {"model": "default", "k": 12, "codec": "fp32", "temperature": 0.0, "top_p": 1.0, "seed": None}


def cloud_settings(data_dir: Path) -> Settings:
    return load_settings(
        role="cloud", model=EDGE_MODEL, api_token=TOKEN, data_dir=data_dir, port=free_port(), engine="ray",
        ray_replicas=2, ray_replica_threads=1, split_model=EDGE_MODEL, speculative_model=EDGE_MODEL,
    )  # fmt: skip


@pytest.fixture(scope="module")
def ray_cloud(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    import ray
    from ray import serve

    from edgesplit.cloud.ray_serve import run_application, start_ray

    settings = cloud_settings(tmp_path_factory.mktemp("ray-cloud"))
    start_ray(settings, num_cpus=2)
    try:
        run_application(settings)
        yield f"http://127.0.0.1:{settings.port}"
    finally:
        serve.shutdown()  # type: ignore[no-untyped-call]
        ray.shutdown()


def replica_of(reply: httpx.Response) -> str:
    return reply.headers["x-edgesplit-replica"]


def chat(url: str, stream: bool, max_tokens: int = 8) -> tuple[str, str]:
    """(answer, replica) of one full generation through the proxy."""
    body = {"model": "default", "messages": [{"role": "user", "content": PROMPT}], "max_tokens": max_tokens}
    body |= {"temperature": 0, "stream": stream}
    with httpx.stream("POST", f"{url}/v1/chat/completions", json=body, headers=AUTH, timeout=120) as reply:
        assert reply.status_code == 200, reply.read()
        if not stream:
            return json.loads(reply.read())["choices"][0]["message"]["content"], replica_of(reply)
        parts = [
            choice["delta"].get("content") or ""
            for line in reply.iter_lines()
            if line.startswith("data: {")
            for choice in json.loads(line[6:]).get("choices", [])
        ]
        return "".join(parts), replica_of(reply)


def test_full_generation_spreads_over_the_replicas(ray_cloud: str) -> None:
    answers = [chat(ray_cloud, stream=i % 2 == 1) for i in range(12)]
    assert len({answer for answer, _ in answers}) == 1  # greedy: the same answer from either replica
    assert len({replica for _, replica in answers}) == 2


def test_every_call_of_a_session_reaches_the_replica_that_holds_it(ray_cloud: str) -> None:
    with httpx.Client(base_url=ray_cloud, headers=AUTH, timeout=60) as client:
        pinned, loose = [], []
        for _ in range(16):
            key = uuid.uuid4().hex
            opened = client.post("/v1/split/sessions", json=OPEN, headers={"x-session-id": key})
            assert opened.status_code == 201, opened.text
            session = opened.json()["id"]
            closed = client.delete(f"/v1/split/sessions/{session}", headers={"x-session-id": key})
            pinned.append((closed.is_success, replica_of(closed) == replica_of(opened)))
            unkeyed = client.post("/v1/split/sessions", json=OPEN).json()["id"]
            loose.append(client.delete(f"/v1/split/sessions/{unkeyed}").status_code)
    assert pinned == [(True, True)] * 16  # affinity held for every call
    assert 404 in loose  # without the key, calls land on either replica: the check above can fail


def test_a_verify_session_keeps_its_replica_and_gives_the_cloud_greedy_answer(ray_cloud: str) -> None:
    expected, _ = chat(ray_cloud, stream=False, max_tokens=32)
    drafter = LocalBackend(EDGE_MODEL, locate_model(EDGE_MODEL), ModelQueue(EDGE_MODEL, 4, 1))
    try:
        for _ in range(3):  # three sessions, each opened on whichever replica the hash picks
            verifier = RemoteVerifier(UpstreamClient(ray_cloud, TOKEN, 60))
            backend = SpeculativeBackend(drafter, verifier, EDGE_MODEL, mode="exact")
            backend.gamma.min_gamma = backend.gamma.max_gamma = 2  # many verify calls per session
            text, stats = asyncio.run(_generate(backend, PROMPT, 32))
            assert text == expected
            # a call that reached another replica would find no session (404) and re-open it
            assert stats.rounds >= 4 and stats.reopened == 0
    finally:
        drafter.close()


def split_edge(make_edge: Any, url: str) -> NodeServer:
    return make_edge(
        upstream=url, upstream_token=TOKEN, split_model=EDGE_MODEL, split_k=12, split_codec="fp32",
        link_probe_interval_s=0,
    )  # fmt: skip


def test_split_through_ray_equals_unsplit_greedy(make_edge: Any, ray_cloud: str) -> None:
    edge = split_edge(make_edge, ray_cloud)
    body = {"model": "edgesplit/auto", "messages": [{"role": "user", "content": PROMPT}], "max_tokens": 16}
    reply = httpx.post(f"{edge.url}/v1/chat/completions", json={**body, "temperature": 0}, headers=ALLOW, timeout=120)
    meta = reply.json()["edgesplit"]
    assert meta["route"] == "split" and not meta["fallback"]
    assert reply.json()["choices"][0]["message"]["content"] == _engine_greedy(edge, PROMPT, 16)


def test_a_replica_killed_mid_generation_the_session_reopens_on_another(make_edge: Any, ray_cloud: str) -> None:
    import ray

    edge = split_edge(make_edge, ray_cloud)
    segment = edge.node.split.segment  # type: ignore[attr-defined]
    body = {"model": "edgesplit/auto", "messages": [{"role": "user", "content": PROMPT}], "max_tokens": 48}
    parts, killed = [], None
    with httpx.stream(
        "POST", f"{edge.url}/v1/chat/completions", json={**body, "temperature": 0, "stream": True}, headers=ALLOW,
        timeout=180,
    ) as reply:  # fmt: skip
        for line in reply.iter_lines():
            if line.startswith("data: {"):
                chunk = json.loads(line[6:])
                parts += [choice["delta"].get("content") or "" for choice in chunk.get("choices", [])]
                meta = chunk.get("edgesplit", {})
            if killed is None and len(parts) >= 4:
                (killed,) = segment.replicas.values()
                ray.kill(ray.get_actor(killed, namespace="serve"), no_restart=True)
    assert killed is not None
    assert meta["route"] == "split" and not meta["fallback"]
    assert "".join(parts) == _engine_greedy(edge, PROMPT, 48)  # the answer completed, equal to unsplit greedy
    assert segment.replicas == {}  # the lost session was forgotten, the new one closed
    wait_for_replicas(ray_cloud, 2)  # Serve replaces the dead replica for the next tests


def wait_for_replicas(url: str, count: int, timeout_s: float = 120) -> None:
    from ray import serve

    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        states = serve.status().applications["edgesplit"].deployments["cloud"].replica_states
        if states.get("RUNNING", 0) == count and len(states) == 1:
            return
        time.sleep(1)
    raise AssertionError(f"{url}: replicas did not recover: {states}")
