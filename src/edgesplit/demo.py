"""The demo: a cloud and an edge node on loopback, a mixed batch of prompts, a routing summary.

After the routed traffic, a few hard prompts are answered twice, by the cloud alone and by
speculative decoding (the edge model drafts, the cloud model verifies), to show that the two
answers are the same text.
"""

from __future__ import annotations

import secrets
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from edgesplit.config import Settings, load_settings
from edgesplit.server import NodeServer, build_node

__all__ = ["DEMO_PROMPTS", "DemoResult", "SpeculativeCheck", "packaged_router", "percentile", "run_demo", "send_chat"]

# (kind, prompt): everyday device/help-desk questions the edge should handle, and harder
# coding/reasoning ones that should go to the cloud.
DEMO_PROMPTS: list[tuple[str, str]] = [
    ("easy", "How do I restart my Wi-Fi router?"),
    ("easy", "What does a blinking red light on a printer usually mean?"),
    ("easy", "Say hello to the operator in one short sentence."),
    ("easy", "What is the capital of France?"),
    ("easy", "Give me one tip to save battery on a laptop."),
    ("easy", "How do I turn off the scanner safely?"),
    ("easy", "What does HTTP stand for?"),
    ("easy", "Name three primary colors."),
    ("hard", "Write a Python function that checks whether a string is a palindrome, ignoring punctuation."),
    ("hard", "Explain the difference between a process and a thread, with an example."),
    ("hard", "Write a SQL query that returns the second highest salary from an employees table."),
    (
        "hard",
        "A train leaves at 3 pm at 60 km/h; another leaves the same station at 4 pm at 90 km/h. "
        "When does the second catch up?",
    ),
]


def packaged_router() -> Path | None:
    """The router artifact shipped with edgesplit (calibrated on the eval mix; see README), if any."""
    path = Path(__file__).parent / "data" / "router.json"
    return path if path.exists() else None


@dataclass
class DemoResult:
    kind: str
    prompt: str
    route: str
    rule: str
    reason: str
    latency_s: float
    completion_tokens: int
    answer: str

    @property
    def tokens_per_s(self) -> float:
        return self.completion_tokens / self.latency_s if self.latency_s > 0 else 0.0


@dataclass
class SpeculativeCheck:
    prompt: str
    identical: bool  # the speculative answer is the cloud's own greedy answer
    cloud_s: float
    speculative_s: float
    completion_tokens: int


def send_chat(client: httpx.Client, prompt: str, max_tokens: int, model: str = "edgesplit/auto") -> dict[str, Any]:
    """One non-streamed chat request; returns the parsed OpenAI response body."""
    body = {
        "model": model,
        "messages": [{"role": "user", "content": prompt}],
        "max_tokens": max_tokens,
        "temperature": 0,
    }
    response = client.post("/v1/chat/completions", json=body)
    response.raise_for_status()
    return dict(response.json())


def percentile(values: list[float], q: float) -> float:
    """The q-th percentile (0..100) by linear interpolation; 0.0 for no values."""
    if not values:
        return 0.0
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[min(98, max(0, round(q) - 1))]


def run_demo(
    edge_settings: Settings | None = None,
    cloud_settings: Settings | None = None,
    prompts: list[tuple[str, str]] | None = None,
    max_tokens: int = 96,
    on_stage: Callable[[str], None] = lambda _: None,
    on_result: Callable[[DemoResult], None] = lambda _: None,
    speculative_checks: int = 2,
    on_check: Callable[[SpeculativeCheck], None] = lambda _: None,
) -> list[DemoResult]:
    """Start both tiers on free loopback ports, send the prompts through the edge, return per-prompt results.

    Then, when the cloud verifies drafts (``speculative_model``; the default cloud does), the
    first ``speculative_checks`` hard prompts go once to the cloud and once through speculative
    decoding; each comparison is passed to ``on_check``.
    """
    token = secrets.token_urlsafe(24)
    if cloud_settings is None:
        cloud_settings = load_settings(role="cloud", port=0, api_token=token)
        cloud_settings = cloud_settings.model_copy(update={"speculative_model": cloud_settings.model})
    on_stage(f"loading cloud model {cloud_settings.model}")
    with NodeServer(build_node(cloud_settings)) as cloud:
        base = edge_settings or load_settings(role="edge", port=0)
        edge_settings = base.model_copy(
            update={
                "router_artifact": base.router_artifact or packaged_router(),
                "upstream": cloud.url,
                "upstream_token": cloud_settings.api_token,
                "speculative_model": cloud_settings.speculative_model,
            }
        )
        on_stage(f"loading edge model {edge_settings.model}")
        with NodeServer(build_node(edge_settings)) as edge, httpx.Client(base_url=edge.url, timeout=600) as client:
            on_stage("sending demo traffic")
            results = []
            for kind, prompt in prompts or DEMO_PROMPTS:
                start = time.perf_counter()
                body = send_chat(client, prompt, max_tokens)
                meta = body["edgesplit"]
                result = DemoResult(
                    kind=kind,
                    prompt=prompt,
                    route=meta["route"],
                    rule=meta["rule"],
                    reason=meta["reason"],
                    latency_s=time.perf_counter() - start,
                    completion_tokens=body["usage"]["completion_tokens"],
                    answer=body["choices"][0]["message"]["content"],
                )
                results.append(result)
                on_result(result)
            if cloud_settings.speculative_model:
                hard = [p for kind, p in prompts or DEMO_PROMPTS if kind == "hard"][:speculative_checks]
                for prompt in hard:
                    on_stage(f"speculative vs cloud: {prompt[:40]}")
                    on_check(_compare(client, prompt, max_tokens))
    return results


def _compare(client: httpx.Client, prompt: str, max_tokens: int) -> SpeculativeCheck:
    start = time.perf_counter()
    cloud = send_chat(client, prompt, max_tokens, model="edgesplit/cloud")
    middle = time.perf_counter()
    speculative = send_chat(client, prompt, max_tokens, model="edgesplit/speculative")
    end = time.perf_counter()
    answer = cloud["choices"][0]["message"]["content"]
    return SpeculativeCheck(
        prompt=prompt,
        identical=speculative["edgesplit"]["route"] == "speculative"
        and speculative["choices"][0]["message"]["content"] == answer,
        cloud_s=middle - start,
        speculative_s=end - middle,
        completion_tokens=speculative["usage"]["completion_tokens"],
    )
