"""The demo: the model ladder on loopback (device → local → cloud), mixed traffic, a summary per tier.

- **cloud**: Qwen2.5-Coder-1.5B, the top tier; it also verifies speculative drafts.
- **local**: Qwen2.5-Coder-0.5B, an on-premises server: upstream for the device, edge toward the cloud.
- **device**: SmolLM2-135M with its packaged router (every node loads the one for its model), next to
  the user; its upstream is the local tier.

Every request enters at the device and climbs only as far as the routers send it; each answer's
``edgesplit.hops`` says which tier wrote it. Afterwards a few hard prompts are answered twice
at the local tier, by the cloud alone and by speculative decoding (the local 0.5B drafts, the
cloud's 1.5B verifies: versions of one model, one tokenizer), to show the two answers match.
"""

from __future__ import annotations

import secrets
import statistics
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from typing import Any

import httpx

from edgesplit.config import Role, Settings, load_settings
from edgesplit.server import NodeServer, build_node

__all__ = [
    "DEMO_PROMPTS",
    "DemoPrompt",
    "DemoResult",
    "SpeculativeCheck",
    "Tiers",
    "percentile",
    "run_demo",
    "send_chat",
    "start_tiers",
    "workload_sample",
]


@dataclass(frozen=True)
class DemoPrompt:
    kind: str  # routine | hard (older callers: easy | hard)
    prompt: str
    family: str = ""  # the edge-workload family, when it comes from that set
    rule: tuple[str, Any, float] | None = None  # (check, expected, tolerance): the answer is checked
    max_tokens: int | None = None  # None: the demo's max_tokens


def workload_sample(code_max_tokens: int = 320) -> list[DemoPrompt]:
    """One held-out item of each edge-workload family (never a calibration item), with its rule."""
    from edgesplit.evaluation.datasets import heldout_sample

    return [
        DemoPrompt("hard" if item.hard else "routine", item.prompt, item.family,
                   (item.check, item.expected, item.tolerance), code_max_tokens if item.check == "code" else None)
        for item in heldout_sample()
    ]  # fmt: skip


# (kind, prompt): everyday device/help-desk questions a small model handles, and harder
# coding/reasoning ones that need a bigger one (no rule checks them: the demo's own sample is
# workload_sample(); these remain for callers that pass their own prompts).
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
TIERS = ("device", "local", "cloud")


@dataclass
class DemoResult:
    kind: str
    prompt: str
    tier: str  # the tier whose model wrote the answer
    rule: str  # why the device did what it did
    reason: str
    latency_s: float
    completion_tokens: int
    answer: str
    hops: list[dict[str, Any]] = field(default_factory=list)
    family: str = ""
    right: bool | None = None  # the item's rule on the answer; None when no rule checks it

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


@dataclass
class Tiers:
    """The three running nodes and the token the local tier wants from its callers."""

    device: NodeServer
    local: NodeServer
    cloud: NodeServer
    local_token: str


def send_chat(
    client: httpx.Client,
    prompt: str,
    max_tokens: int,
    model: str = "edgesplit/auto",
    headers: dict[str, str] | None = None,
) -> dict[str, Any]:
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


def default_settings(role: Role, **overrides: Any) -> Settings:
    """A tier's demo settings: free loopback port, the role's ladder model."""
    return load_settings(role=role, port=0, **overrides)


@contextmanager
def start_tiers(
    device: Settings | None = None,
    local: Settings | None = None,
    cloud: Settings | None = None,
    on_stage: Callable[[str], None] = lambda _: None,
) -> Iterator[Tiers]:
    """Cloud, then local (upstream: the cloud), then device (upstream: the local tier), all on loopback.

    Each tier gets a fresh random token for its callers; the local tier drafts for the cloud's
    verifier when the cloud serves one (``speculative_model``)."""
    cloud_token, local_token = secrets.token_urlsafe(24), secrets.token_urlsafe(24)
    if cloud is None:
        cloud = default_settings("cloud", api_token=cloud_token)
        cloud = cloud.model_copy(update={"speculative_model": cloud.model})
    with ExitStack() as stack:
        on_stage(f"loading cloud model {cloud.model}")
        cloud_node = stack.enter_context(NodeServer(build_node(cloud)))
        base = local or default_settings("local", api_token=local_token)
        local = base.model_copy(
            update={
                "upstream": cloud_node.url,
                "upstream_token": cloud.api_token,
                "speculative_model": cloud.speculative_model,
            }
        )
        on_stage(f"loading local model {local.model}")
        local_node = stack.enter_context(NodeServer(build_node(local)))
        base = device or default_settings("edge")
        device = base.model_copy(
            update={
                "upstream": local_node.url,
                "upstream_token": local.api_token,
                "upstream_scope": "site",
            }
        )
        on_stage(f"loading device model {device.model}")
        device_node = stack.enter_context(NodeServer(build_node(device)))
        token = local.api_token.get_secret_value() if local.api_token else ""
        yield Tiers(device_node, local_node, cloud_node, token)


def run_demo(
    device: Settings | None = None,
    local: Settings | None = None,
    cloud: Settings | None = None,
    prompts: list[DemoPrompt] | list[tuple[str, str]] | None = None,
    max_tokens: int = 96,
    on_stage: Callable[[str], None] = lambda _: None,
    on_result: Callable[[DemoResult], None] = lambda _: None,
    speculative_checks: int = 2,
    on_check: Callable[[SpeculativeCheck], None] = lambda _: None,
) -> list[DemoResult]:
    """Start the three tiers, send the prompts to the device, return per-prompt results.

    Then, when the cloud verifies drafts, the first ``speculative_checks`` hard prompts go to
    the local tier twice: forced to the cloud, and through speculative decoding. The default
    traffic is :func:`workload_sample`: one held-out item of each edge-workload family."""
    chosen = [p if isinstance(p, DemoPrompt) else DemoPrompt(*p) for p in prompts] if prompts else workload_sample()
    with start_tiers(device, local, cloud, on_stage) as tiers:
        on_stage("sending demo traffic to the device")
        results = []
        with httpx.Client(base_url=tiers.device.url, timeout=600) as client:
            for item in chosen:
                result = _ask(client, item, item.max_tokens or max_tokens)
                results.append(result)
                on_result(result)
        if tiers.cloud.node.settings.speculative_model:
            headers = {"authorization": f"Bearer {tiers.local_token}"}
            with httpx.Client(base_url=tiers.local.url, timeout=600, headers=headers) as client:
                for prompt in [p.prompt for p in chosen if p.kind == "hard"][:speculative_checks]:
                    on_stage(f"speculative (local drafts, cloud verifies) vs cloud: {prompt[:40]}")
                    on_check(_compare(client, prompt, max_tokens))
    return results


def _ask(client: httpx.Client, item: DemoPrompt, max_tokens: int) -> DemoResult:
    from edgesplit.evaluation.rules import check_answer

    start = time.perf_counter()
    body = send_chat(client, item.prompt, max_tokens)
    meta = body["edgesplit"]
    answer = body["choices"][0]["message"]["content"]
    return DemoResult(
        kind=item.kind,
        prompt=item.prompt,
        tier=serving_tier(meta["hops"]),
        rule=meta["rule"],
        reason=meta["reason"],
        latency_s=time.perf_counter() - start,
        completion_tokens=body["usage"]["completion_tokens"],
        answer=answer,
        hops=meta["hops"],
        family=item.family,
        right=check_answer(*item.rule[:2], answer, item.rule[2])[0] if item.rule is not None else None,
    )


def serving_tier(hops: list[dict[str, Any]]) -> str:
    """The tier whose model wrote the answer: the hop marked served, else the last one."""
    return next((hop["tier"] for hop in hops if hop.get("served")), hops[-1]["tier"] if hops else "?")


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
