"""tracing.py: one request through device → local → cloud is one trace, with every tier's stage spans.

Real nodes in this process (SmolLM2 at every tier, real uvicorn on loopback), the SDK's in-memory
exporter. No prompt text or personal value may reach a span: names, attributes and events are
searched for them.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from conftest import CLOUD_TOKEN, EDGE_MODEL, EdgeFactory, client_for
from edgesplit import tracing
from edgesplit.server import NodeServer

TEXT = "Patient Maria Souza, CPF 529.982.247-25, asks how to restart the infusion pump."
LOCAL_TOKEN = "test-local-token"
SECRETS = ("Maria", "Souza", "529.982.247-25", "infusion", LOCAL_TOKEN, CLOUD_TOKEN)


@pytest.fixture(scope="module")
def exporter() -> Iterator[InMemorySpanExporter]:
    memory = InMemorySpanExporter()
    tracing.use_exporter(memory, batch=False, name="memory")  # once per process, before the nodes start
    yield memory
    memory.shutdown()  # later tests' spans are dropped, not kept in memory


def _finished(exporter: InMemorySpanExporter, servers: int, timeout_s: float = 10) -> tuple[ReadableSpan, ...]:
    """The finished spans once ``servers`` server spans are among them: a stream's server span ends just
    after its last chunk has gone out, so the client may be done first."""
    deadline = time.monotonic() + timeout_s
    while True:
        spans = exporter.get_finished_spans()
        if sum(s.name == "edgesplit.http" for s in spans) >= servers or time.monotonic() > deadline:
            return spans
        time.sleep(0.05)


def _tiers(spans: list[ReadableSpan], every: tuple[ReadableSpan, ...]) -> dict[str, set[str]]:
    """Names of ``spans`` by the tier of the server span above each (walking through library spans)."""
    by_id = {s.context.span_id: s for s in every}
    out: dict[str, set[str]] = {}
    for s in spans:
        node = s
        while node.name != "edgesplit.http" and node.parent is not None and node.parent.span_id in by_id:
            node = by_id[node.parent.span_id]
        tier = str((node.attributes or {}).get("edgesplit.tier"))
        out.setdefault(tier, set()).add(s.name)
    return out


@pytest.mark.parametrize("stream", [False, True])
def test_one_request_is_one_trace_across_three_tiers(
    exporter: InMemorySpanExporter, make_edge: EdgeFactory, cloud: NodeServer, stream: bool
) -> None:
    local = make_edge(
        role="local", model=EDGE_MODEL, upstream=cloud.url, upstream_token=CLOUD_TOKEN, api_token=LOCAL_TOKEN
    )
    # the device asks the local tier for its cloud route, so the request climbs all the way
    device = make_edge(upstream=local.url, upstream_token=LOCAL_TOKEN, upstream_model="edgesplit/cloud")
    exporter.clear()
    reply = client_for(device).chat.completions.create(
        model="edgesplit/cloud", messages=[{"role": "user", "content": TEXT}], max_tokens=8, temperature=0,
        stream=stream,
    )  # fmt: skip
    if stream:
        list(reply)  # type: ignore[call-overload]
    every = _finished(exporter, servers=3)  # the libraries' own spans too (FastAPI's, httpx's)
    spans = [s for s in every if s.instrumentation_scope is not None and s.instrumentation_scope.name == "edgesplit"]
    assert len({s.context.trace_id for s in spans}) == 1  # one trace, device to cloud
    tiers = _tiers(spans, every)
    edge_stages = {"edgesplit.http", "admit", "classify", "redact", "route", "dispatch", "respond", "record"}
    assert edge_stages | {"restore"} <= tiers["device"]
    assert edge_stages <= tiers["local"]
    assert {"edgesplit.http", "admit", "classify", "dispatch", "respond", "record"} <= tiers["cloud"]
    servers = [s for s in spans if s.name == "edgesplit.http"]
    assert sorted(str((s.attributes or {})["edgesplit.tier"]) for s in servers) == ["cloud", "device", "local"]
    assert all((s.attributes or {})["http.response.status_code"] == 200 for s in servers)
    assert {(s.attributes or {})["url.path"] for s in servers} == {"/v1/chat/completions"}
    dump = repr([(s.name, dict(s.attributes or {}), [dict(e.attributes or {}) for e in s.events]) for s in every])
    assert not [secret for secret in SECRETS if secret in dump]
