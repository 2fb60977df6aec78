"""Three tiers on loopback: device → local → cloud, each a real node with a real model.

SmolLM2 serves on every tier here (fast); the ladder's own models (0.5B local, 1.5B cloud) run
in the demo and the eval. What is checked: a request climbs only as far as it is sent, every
hop reports itself, each hop falls back on its own, and each hop applies its own privacy policy.
"""

from __future__ import annotations

import time
from typing import Any

import httpx
import pytest

from conftest import CLOUD_TOKEN, EDGE_MODEL, EdgeFactory
from doubles import RecordingEcho
from edgesplit.server import AppServer, NodeServer

LOCAL_TOKEN = "test-local-token"
DEAD = "http://127.0.0.1:9"  # nothing listens there
PROMPT = "Name one primary colour."


def start_local(make_edge: EdgeFactory, upstream: str, **overrides: Any) -> NodeServer:
    return make_edge(
        role="local",
        model=EDGE_MODEL,
        api_token=LOCAL_TOKEN,
        upstream=upstream,
        upstream_token=CLOUD_TOKEN,
        link_probe_interval_s=0,
        **overrides,
    )


def start_device(make_edge: EdgeFactory, local: str, **overrides: Any) -> NodeServer:
    overrides.setdefault("upstream_scope", "site")
    return make_edge(upstream=local, upstream_token=LOCAL_TOKEN, link_probe_interval_s=0, **overrides)


def ask(server: NodeServer, text: str, stream: bool, headers: dict[str, str] | None = None, **body: Any) -> Any:
    """A chat over plain HTTP: (answer, the final ``edgesplit`` object)."""
    payload = {"model": "edgesplit/cloud", "messages": [{"role": "user", "content": text}], "max_tokens": 8}
    payload |= {"temperature": 0, "stream": stream, **body}
    with httpx.Client(base_url=server.url, timeout=120, headers=headers) as client:
        if not stream:
            reply = client.post("/v1/chat/completions", json=payload)
            assert reply.status_code == 200, reply.text
            data = reply.json()
            return data["choices"][0]["message"]["content"], data["edgesplit"]
        parts, meta = [], None
        with client.stream("POST", "/v1/chat/completions", json=payload) as response:
            assert response.status_code == 200
            for line in response.iter_lines():
                if not line.startswith("data: ") or line == "data: [DONE]":
                    continue
                chunk = httpx.Response(200, content=line[6:]).json()
                for choice in chunk.get("choices", []):
                    parts.append(choice["delta"].get("content") or "")
                    if choice.get("finish_reason"):
                        meta = chunk["edgesplit"]
        return "".join(parts), meta


def tiers(meta: dict[str, Any]) -> list[tuple[str, bool]]:
    return [(hop["tier"], hop["served"]) for hop in meta["hops"]]


@pytest.mark.parametrize("stream", [False, True])
def test_a_request_climbs_device_local_cloud_and_each_hop_reports_itself(
    make_edge: EdgeFactory, cloud: NodeServer, stream: bool
) -> None:
    local = start_local(make_edge, cloud.url, upstream_model="edgesplit/cloud")
    device = start_device(make_edge, local.url, upstream_model="edgesplit/cloud")
    answer, meta = ask(device, PROMPT, stream)
    assert tiers(meta) == [("device", False), ("local", False), ("cloud", True)]
    assert [hop["model"] for hop in meta["hops"]] == [EDGE_MODEL] * 3
    assert [hop["route"] for hop in meta["hops"]] == ["cloud", "cloud", "cloud"]
    latencies = [hop["latency_ms"] for hop in meta["hops"]]
    assert latencies == sorted(latencies, reverse=True) and latencies[-1] > 0  # each includes the ones above
    direct, _ = ask(cloud, PROMPT, stream, headers={"authorization": f"Bearer {CLOUD_TOKEN}"}, model="default")
    assert answer == direct  # two hops change nothing in the cloud's greedy answer


def test_the_cloud_down_means_the_local_tier_answers(make_edge: EdgeFactory) -> None:
    local = start_local(make_edge, DEAD, upstream_model="edgesplit/cloud")
    device = start_device(make_edge, local.url, upstream_model="edgesplit/cloud")
    answer, meta = ask(device, PROMPT, stream=True)
    assert answer
    assert tiers(meta) == [("device", False), ("local", True)]
    local_hop = meta["hops"][1]
    assert local_hop["fallback"] and local_hop["rule"] == "fallback"
    assert not meta["fallback"]  # the device got its answer from upstream, as it asked


def test_the_local_tier_down_means_the_device_answers(make_edge: EdgeFactory) -> None:
    device = start_device(make_edge, DEAD)
    answer, meta = ask(device, PROMPT, stream=False)
    assert answer
    assert tiers(meta) == [("device", True)]
    assert meta["fallback"] and meta["hops"][0]["fallback"]


def ladder_over(make_edge: EdgeFactory, cloud_url: str) -> NodeServer:
    """A local tier over ``cloud_url`` and a device over it, both passing requests on: the device."""
    local = start_local(make_edge, cloud_url, upstream_model="edgesplit/cloud")
    return start_device(make_edge, local.url, upstream_model="edgesplit/cloud")


def test_site_only_data_reaches_the_local_tier_and_never_the_cloud(
    make_edge: EdgeFactory, echo_upstream: tuple[RecordingEcho, AppServer]
) -> None:
    echo, server = echo_upstream
    device = ladder_over(make_edge, server.url)
    text = "Patient Maria Silva, MRN 448812, reports chest pain."
    answer, meta = ask(device, text, stream=True, headers={"x-edgesplit-privacy": "site-only"})
    assert answer
    assert tiers(meta) == [("device", False), ("local", True)]
    assert meta["hops"][1]["rule"] == "local-only"  # the local tier kept it: its upstream is the cloud
    assert echo.bodies == []


def test_site_only_data_stays_on_a_device_whose_upstream_is_the_cloud(
    make_edge: EdgeFactory, echo_upstream: tuple[RecordingEcho, AppServer]
) -> None:
    echo, server = echo_upstream
    device = make_edge(upstream=server.url, upstream_token=CLOUD_TOKEN, link_probe_interval_s=0)  # scope: cloud
    _, meta = ask(device, "Patient Maria Silva reports chest pain.", False, {"x-edgesplit-privacy": "site-only"})
    assert tiers(meta) == [("device", True)] and meta["rule"] == "local-only"
    assert echo.bodies == []


def test_each_hop_redacts_what_leaves_it_and_the_answer_comes_back_whole(
    make_edge: EdgeFactory, echo_upstream: tuple[RecordingEcho, AppServer]
) -> None:
    echo, server = echo_upstream
    device = ladder_over(make_edge, server.url)
    text = "Call Maria Silva at +1 415-555-0132 about invoice 7731."
    answer, meta = ask(device, text, stream=True, max_tokens=64)
    assert answer == text  # the echo returns what it saw; both hops restore their placeholders
    seen = echo.seen()
    assert "Maria Silva" not in seen and "415-555-0132" not in seen
    assert echo.privacy == ["redact"]  # the floor travels up: the next hop may only tighten it
    assert tiers(meta) == [("device", False), ("local", False), ("upstream", True)]
    assert meta["privacy"]["redacted"]


def test_a_device_delivery_runs_once_on_the_local_tier(make_edge: EdgeFactory, cloud: NodeServer) -> None:
    local = start_local(make_edge, cloud.url)
    body = {"model": "edgesplit/edge", "messages": [{"role": "user", "content": PROMPT}], "max_tokens": 4}
    headers = {"authorization": f"Bearer {LOCAL_TOKEN}", "idempotency-key": "job-1"}
    first = httpx.post(f"{local.url}/v1/chat/completions", json=body, headers=headers, timeout=60)
    again = httpx.post(f"{local.url}/v1/chat/completions", json=body, headers=headers, timeout=60)
    assert first.status_code == again.status_code == 200
    assert first.json()["id"] == again.json()["id"]  # the stored answer, not a second run


def test_the_local_tier_requires_a_token(make_edge: EdgeFactory) -> None:
    from edgesplit.config import load_settings
    from edgesplit.errors import ConfigError

    with pytest.raises(ConfigError, match="api_token"):
        load_settings(role="local")
    local = start_local(make_edge, DEAD)
    assert httpx.post(f"{local.url}/v1/chat/completions", json={}).status_code == 401


def test_a_deferred_site_only_job_is_kept_by_the_local_tier(
    make_edge: EdgeFactory, echo_upstream: tuple[RecordingEcho, AppServer]
) -> None:
    echo, server = echo_upstream
    device = ladder_over(make_edge, server.url)
    body = {"model": "edgesplit/cloud", "messages": [{"role": "user", "content": "Patient Ana Lima, MRN 5521."}]}
    headers = {"x-edgesplit-privacy": "site-only", "x-edgesplit-priority": "batch"}
    job = httpx.post(f"{device.url}/v1/chat/completions", json=body | {"max_tokens": 8}, headers=headers, timeout=30)
    assert job.status_code == 202, job.text
    deadline = time.monotonic() + 60
    while (record := httpx.get(f"{device.url}/v1/jobs/{job.json()['id']}", timeout=10).json())["status"] != "done":
        assert record["status"] != "failed" and time.monotonic() < deadline, record
        time.sleep(0.2)
    assert record["result"]["edgesplit"]["rule"] == "local-only"  # the local tier answered it itself
    assert echo.bodies == []


# A note a clinic's device sends up: values of formats no rule names (an Irish PPSN and Eircode, a
# lower-case name after a greeting, a hyphenated surname), as strict mode must catch them.
CLINICAL_NOTE = "hi aoife, Mr Tadhg Hardy-Quennell (PPSN 7731942KA, Eircode T23 X4F9) asks about his COPD review."
CLINICAL_VALUES = ("aoife", "Tadhg", "Hardy-Quennell", "7731942KA", "T23 X4F9")


def test_a_site_boundary_sends_the_local_tier_raw_text_with_the_redact_floor(
    make_edge: EdgeFactory, echo_upstream: tuple[RecordingEcho, AppServer]
) -> None:
    """Issue 38 item 3: with privacy_boundary = "site", the device's site upstream gets the text as is."""
    echo, server = echo_upstream
    device = make_edge(
        upstream=server.url, upstream_token=CLOUD_TOKEN, upstream_scope="site", privacy_boundary="site",
        link_probe_interval_s=0,
    )  # fmt: skip
    answer, meta = ask(device, CLINICAL_NOTE, stream=False, max_tokens=64)
    assert answer == CLINICAL_NOTE
    assert all(value in echo.seen() for value in CLINICAL_VALUES)
    assert echo.privacy == ["redact"]  # the site's own tier must redact it before it leaves the site
    assert meta["privacy"]["redacted"] == {}


@pytest.mark.parametrize("stream", [False, True])
def test_the_clinical_site_redacts_where_text_leaves_it_and_the_answer_comes_back_whole(
    make_edge: EdgeFactory, echo_upstream: tuple[RecordingEcho, AppServer], stream: bool
) -> None:
    """Device (site boundary) → local tier (clinical preset: strict mode) → a recording cloud."""
    echo, server = echo_upstream
    local = start_local(make_edge, server.url, upstream_model="edgesplit/cloud", privacy_preset="clinical")
    device = start_device(make_edge, local.url, upstream_model="edgesplit/cloud", privacy_boundary="site")
    answer, meta = ask(device, CLINICAL_NOTE, stream=stream, max_tokens=96)
    assert answer == CLINICAL_NOTE  # the local tier restores its placeholders
    seen = echo.seen()
    assert not [value for value in CLINICAL_VALUES if value in seen], seen
    assert "COPD" in seen  # an abbreviation stays
    assert tiers(meta) == [("device", False), ("local", False), ("upstream", True)]


def test_a_site_boundary_refuses_an_upstream_outside_the_site() -> None:
    from edgesplit.config import load_settings
    from edgesplit.errors import ConfigError

    with pytest.raises(ConfigError, match="privacy_boundary"):
        load_settings(upstream="http://127.0.0.1:9", privacy_boundary="site")  # scope: cloud
    with pytest.raises(ConfigError, match="privacy_boundary"):
        load_settings(privacy_boundary="site")  # no upstream at all
