"""http/stats.py and http/dashboard.py: GET /v1/stats from a real edge, the dashboard's page and auth."""

from __future__ import annotations

import math

import httpx
import pytest

from conftest import EdgeFactory, client_for
from doubles import RecordingEcho
from edgesplit.http.stats import quantile, quantile_bound
from edgesplit.server import AppServer, NodeServer

TOKEN = "stats-test-token"


def test_quantile_interpolates_inside_the_bucket() -> None:
    buckets = [(0.1, 0.0), (0.2, 10.0), (0.5, 20.0), (math.inf, 20.0)]
    assert quantile(0.5, buckets) == pytest.approx(0.2)
    assert quantile(0.75, buckets) == pytest.approx(0.35)
    assert quantile(0.5, [(0.1, 0.0), (math.inf, 0.0)]) is None  # nothing observed
    assert quantile(0.99, [(0.1, 1.0), (math.inf, 5.0)]) == 0.1  # beyond the last bound: the bound
    assert quantile_bound(0.99, [(0.1, 1.0), (math.inf, 5.0)]) == (0.1, True)  # ... and it says "more than"
    assert quantile_bound(0.5, [(0.1, 1.0), (math.inf, 5.0)]) == (0.1, True)
    assert quantile_bound(0.1, [(0.1, 1.0), (math.inf, 5.0)]) == (pytest.approx(0.05), False)
    # one observation in (5, 10]: p50 7.5, p95 9.75, as histogram_quantile answers
    one = [(5.0, 0.0), (10.0, 1.0), (math.inf, 1.0)]
    assert quantile(0.5, one) == pytest.approx(7.5) and quantile(0.95, one) == pytest.approx(9.75)


@pytest.fixture
def stats_edge(make_edge: EdgeFactory, echo_upstream: tuple[RecordingEcho, AppServer]) -> NodeServer:
    _, server = echo_upstream
    return make_edge(upstream=server.url, api_token=TOKEN, link_probe_interval_s=0.5)


def _stats(edge: NodeServer) -> dict:  # type: ignore[type-arg]
    reply = httpx.get(f"{edge.url}/v1/stats", headers={"authorization": f"Bearer {TOKEN}"}, timeout=30)
    assert reply.status_code == 200, reply.text
    return reply.json()  # type: ignore[no-any-return]


def test_stats_count_tiers_routes_redactions_and_escalations(stats_edge: NodeServer) -> None:
    edge = stats_edge
    client = client_for(edge, api_key=TOKEN)
    for model, stream in (("edgesplit/edge", False), ("edgesplit/cloud", False), ("edgesplit/cloud", True)):
        text = "Patient Maria Souza, CPF 529.982.247-25, needs a refill."
        reply = client.chat.completions.create(
            model=model, messages=[{"role": "user", "content": text}], max_tokens=8, temperature=0, stream=stream
        )
        if stream:
            list(reply)  # type: ignore[call-overload]
    stats = _stats(edge)
    assert sum(stats["served"]["device"]) == 1 and sum(stats["served"]["upstream"]) == 2
    assert stats["escalations"] == {"forced": 2}
    assert stats["redactions"]["BR_CPF"] == 2 and stats["redactions"]["PERSON"] == 2  # the edge answer: none
    for route in ("edge", "cloud"):
        ttft, token = stats["routes"][route]["ttft"], stats["routes"][route]["token"]
        assert any(v is not None and v > 0 for v in ttft["p50_ms"]) and ttft["count"][-1] >= 1
        assert any(v is not None for v in token["p95_ms"]) and not any(token["p95_over"])
    assert len(stats["t"]) == len(stats["link"]["rtt_ms"]) == len(stats["link"]["down"])
    assert any(v is not None for v in stats["link"]["rtt_ms"]) and stats["link"]["state"][-1] == 0
    assert stats["outbox"]["waiting"] == {} and stats["top_bucket_ms"] == {"ttft": 60000.0, "token": 1000.0}
    summary = stats["summary"]
    assert summary["requests"] == 3 and summary["errors"] == 0 and summary["fallbacks"] == 0
    assert summary["personal_kept"] == 1  # the edge's own answer: its CPF and name never left
    assert summary["tokens_per_s"] > 0 and summary["request_rate_rps"] > 0 and summary["uptime_s"] > 0
    assert summary["queue_depth"] == 0 and summary["in_flight"] == 0
    node = stats["node"]
    assert node["tier"] == "device" and node["link"] == "closed" and node["sync"] is None
    assert "cascade" in node["router"]
    text = str(stats)
    assert "Maria" not in text and "529.982" not in text  # types and counts only, never a value


def test_stats_need_the_token_and_the_page_does_not(stats_edge: NodeServer) -> None:
    assert httpx.get(f"{stats_edge.url}/v1/stats").status_code == 401
    page = httpx.get(f"{stats_edge.url}/dashboard")
    assert page.status_code == 200 and "uPlot" in page.text and page.headers["content-type"].startswith("text/html")
    script = httpx.get(f"{stats_edge.url}/dashboard/uPlot.iife.min.js")
    assert script.status_code == 200 and script.headers["content-type"].startswith("text/javascript")
    missing = httpx.get(f"{stats_edge.url}/dashboard/__init__.py")  # only the listed assets are served
    assert missing.status_code == 404 and missing.json()["error"]["type"] == "invalid_request_error"
