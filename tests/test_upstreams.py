"""UpstreamPool (edge/upstreams.py): the order one call tries the upstreams in.

Ranking needs no network: the pool is built from real settings and its breakers are fed by hand.
"""

from __future__ import annotations

import random
from collections import Counter
from typing import Any

import pytest

from edgesplit.config import load_settings
from edgesplit.edge.upstreams import UpstreamPool, upstream_pool
from edgesplit.metrics import NodeMetrics


def pool(strategy: str, *entries: dict[str, Any], **settings: Any) -> UpstreamPool:
    config = load_settings(role="edge", upstreams=list(entries), upstream_strategy=strategy, **settings)
    built = upstream_pool(config, NodeMetrics("edge"))
    assert built is not None
    built._rng = random.Random(7)
    return built


def names(ranked: list[Any]) -> list[str]:
    return [upstream.name for upstream in ranked]


def entry(name: str, **fields: Any) -> dict[str, Any]:
    return {"url": f"http://127.0.0.1:9/{name}", "name": name, **fields}


def test_lower_priority_always_comes_first() -> None:
    upstreams = pool("weighted", entry("cloud", priority=1, weight=100), entry("local", priority=0, weight=1))
    assert all(names(upstreams.ranked())[0] == "local" for _ in range(50))


def test_weighted_order_follows_the_weights() -> None:
    upstreams = pool("weighted", entry("big", weight=3), entry("small", weight=1))
    firsts = Counter(names(upstreams.ranked())[0] for _ in range(4000))
    assert 0.70 < firsts["big"] / 4000 < 0.80  # 3 / (3 + 1)


def test_least_busy_picks_fewest_in_flight_per_weight() -> None:
    upstreams = pool("least-busy", entry("a", weight=2), entry("b", weight=1))
    a, b = upstreams.upstreams
    a.in_flight, b.in_flight = 3, 1  # 1.5 vs 1.0 per unit of weight
    assert names(upstreams.ranked()) == ["b", "a"]
    a.in_flight = 1  # 0.5 vs 1.0
    assert names(upstreams.ranked()) == ["a", "b"]


def test_latency_prefers_the_faster_one_and_measures_an_unmeasured_one_first() -> None:
    upstreams = pool("latency", entry("near"), entry("far"), entry("new"))
    near, far, _ = upstreams.upstreams
    near.link.record_success(5.0)
    far.link.record_success(80.0)
    assert names(upstreams.ranked()) == ["new", "near", "far"]
    near.in_flight = 20  # 5 ms x 21 in flight costs more than 80 ms x 1
    assert names(upstreams.ranked())[1:] == ["far", "near"]


def test_site_only_ranks_only_on_premises_upstreams() -> None:
    upstreams = pool("weighted", entry("local", scope="site"), entry("cloud", priority=1, scope="cloud"))
    assert names(upstreams.ranked(frozenset({"site"}))) == ["local"]
    assert names(upstreams.ranked()) == ["local", "cloud"]


def test_the_primary_is_the_first_edgesplit_upstream() -> None:
    upstreams = pool("weighted", entry("vllm", kind="openai"), entry("cloud", priority=5))
    assert upstreams.primary.name == "cloud" and upstreams.primary.kind == "edgesplit"
    assert upstreams.primary.prober is not None and upstreams.primary.prober.health_path is None
    vllm = upstreams.upstreams[1]
    assert vllm.prober is not None and vllm.prober.health_path == "/v1/models"  # no /v1/link/probe there


def test_a_single_upstream_key_is_a_pool_of_one() -> None:
    config = load_settings(role="edge", upstream="http://127.0.0.1:9", upstream_token="t", upstream_model="m")
    built = upstream_pool(config, NodeMetrics("edge"))
    assert built is not None and names(built.ranked()) == ["127.0.0.1:9"]
    assert built.primary.client.base_url == "http://127.0.0.1:9" and built.primary.backend.model == "m"


def test_the_down_message_names_each_circuit() -> None:
    upstreams = pool("weighted", entry("a"), entry("b"), link_failure_threshold=1)
    for upstream in upstreams.upstreams:
        upstream.link.record_failure()
    message = upstreams.down_message()
    assert message.startswith("no upstream available: ")
    assert "circuit open for a after 1 failures" in message and "circuit open for b" in message


@pytest.mark.parametrize("strategy", ["weighted", "least-busy", "latency"])
def test_every_strategy_ranks_every_eligible_upstream_once(strategy: str) -> None:
    upstreams = pool(strategy, entry("a"), entry("b", priority=2), entry("c"), entry("d", priority=1))
    ranked = names(upstreams.ranked())
    assert sorted(ranked) == ["a", "b", "c", "d"] and ranked[2:] == ["d", "b"]


def test_each_kind_continues_a_begun_answer_its_own_way() -> None:
    vllm, plain = entry("vllm", kind="openai", continues="flag"), entry("plain", kind="openai")
    upstreams = pool("weighted", entry("tier"), vllm, plain)
    assert [u.continues for u in upstreams.upstreams] == ["flag", "flag", "none"]
    assert [entry["continues"] for entry in upstreams.describe()] == ["flag", "flag", "none"]
