"""The split planner: predicted latency and cloud compute of every way to serve a request, and a choice.

Options: ``edge`` (the whole model on the edge), ``cloud`` (the whole model upstream, text over
the link), and ``split@k/codec`` for every k in [1, N) and codec. From the two nodes' profiles
and the link (round trip, bandwidth) it predicts, for a prompt of T tokens and an answer of G:

- time to first token: edge compute for [0, k) + one round trip + frame upload + cloud compute for [k, N);
- per-token latency: the same for one token (split decoding pays a round trip per token);
- cloud compute per token: the cloud's share of one decode step (what a shared cloud saves).

With a :class:`SpeculativeEstimate` (the edge's draft speed and the acceptance rate its
SpeculativeBackend measures), ``speculative@g/exact|batched`` options join the table: a round
of g drafted tokens yields E(g) = (1 - a^(g+1)) / (1 - a) tokens for g draft steps, one round
trip and the verifier's compute (E single-token passes in exact mode; one pass over g + 1
tokens in batched mode, priced at the prefill rate). Its time to first token adds opening the
session (a round trip, the prompt upload and its prefill) to the first round.

Objectives: ``fastest`` (least TTFT + G x per-token) or ``least-cloud`` (least cloud compute per
token among the options within ``latency_budget_ms``). Options the privacy policy forbids are
left out: split sends hidden states, which are raw data.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from edgesplit.engine.codec import CODECS, Codec, frame_bytes
from edgesplit.engine.profile import NodeProfile
from edgesplit.speculation.gamma import expected_tokens

if TYPE_CHECKING:
    from edgesplit.transport.upstream import UpstreamClient

__all__ = [
    "LinkEstimate",
    "Objective",
    "PlanOption",
    "SpeculativeEstimate",
    "SplitPlan",
    "fetch_profile",
    "measure_link",
    "measure_upstream",
    "options",
    "plan",
    "speculative_options",
]

Objective = Literal["fastest", "least-cloud"]
_TEXT_BYTES_PER_TOKEN = 4  # UTF-8 text is about four bytes a token
_HTTP_OVERHEAD_BYTES = 400  # request and response headers per call


@dataclass(frozen=True)
class LinkEstimate:
    rtt_ms: float
    bandwidth_mbps: float

    def transfer_ms(self, n_bytes: int) -> float:
        return (n_bytes + _HTTP_OVERHEAD_BYTES) * 8 / (self.bandwidth_mbps * 1000)


@dataclass(frozen=True)
class SpeculativeEstimate:
    draft_ms: float  # the edge's draft model, ms per token
    acceptance: float  # per-token acceptance rate of its drafts
    max_gamma: int = 8


@dataclass(frozen=True)
class PlanOption:
    name: str  # edge | cloud | split@k/codec | speculative@g/mode
    k: int | None
    codec: Codec | None
    ttft_ms: float
    per_token_ms: float
    cloud_ms_per_token: float
    bytes_per_token: int

    def total_ms(self, answer_tokens: int) -> float:
        return self.ttft_ms + answer_tokens * self.per_token_ms


@dataclass(frozen=True)
class SplitPlan:
    options: list[PlanOption]
    choice: PlanOption
    objective: Objective
    answer_tokens: int


def _engine_full(profile: NodeProfile, prefill: bool) -> float:
    layers = profile.layer_prefill_ms if prefill else profile.layer_decode_ms
    head = profile.head_prefill_ms if prefill else profile.head_decode_ms
    return profile.embed_ms + sum(layers) + head


def _full(profile: NodeProfile, prefill: bool, prompt_tokens: int) -> float:
    """Whole-model time on the serving runtime when measured, else the engine's, scaled to the prompt."""
    if prefill:
        measured = profile.full_prefill_ms if profile.full_prefill_ms is not None else _engine_full(profile, True)
        return measured * prompt_tokens / profile.prompt_tokens
    return profile.full_decode_ms if profile.full_decode_ms is not None else _engine_full(profile, False)


def options(
    edge: NodeProfile,
    cloud: NodeProfile,
    link: LinkEstimate,
    prompt_tokens: int,
    allow_split: bool = True,
    allow_cloud: bool = True,
) -> list[PlanOption]:
    """Predictions for every option the policy allows."""
    if edge.n_layers != cloud.n_layers:
        raise ValueError("edge and cloud profiles are of different models")
    scale = prompt_tokens / edge.prompt_tokens  # prefill cost grows about linearly in prompt length here
    result = [
        PlanOption("edge", None, None, _full(edge, True, prompt_tokens), _full(edge, False, prompt_tokens), 0.0, 0)
    ]
    if allow_cloud:
        upload = link.transfer_ms(prompt_tokens * _TEXT_BYTES_PER_TOKEN)
        cloud_decode = _full(cloud, False, prompt_tokens)
        result.append(
            PlanOption(
                "cloud",
                None,
                None,
                link.rtt_ms + upload + _full(cloud, True, prompt_tokens),
                cloud_decode,
                cloud_decode,
                _TEXT_BYTES_PER_TOKEN,
            )
        )
    if allow_split:
        n = edge.n_layers
        for codec in CODECS:
            for k in range(1, n):
                edge_pre = (edge.embed_ms + sum(edge.layer_prefill_ms[:k])) * scale
                cloud_pre = sum(cloud.layer_prefill_ms[k:]) * scale + cloud.head_prefill_ms
                edge_dec = edge.embed_ms + sum(edge.layer_decode_ms[:k])
                cloud_dec = sum(cloud.layer_decode_ms[k:]) + cloud.head_decode_ms
                ttft = (
                    edge_pre + link.rtt_ms + link.transfer_ms(frame_bytes(codec, prompt_tokens, edge.dim)) + cloud_pre
                )
                per_token = edge_dec + link.rtt_ms + link.transfer_ms(frame_bytes(codec, 1, edge.dim)) + cloud_dec
                result.append(
                    PlanOption(
                        f"split@{k}/{codec}", k, codec, ttft, per_token, cloud_dec, frame_bytes(codec, 1, edge.dim)
                    )
                )
    return result


def speculative_options(
    cloud: NodeProfile, link: LinkEstimate, prompt_tokens: int, estimate: SpeculativeEstimate
) -> list[PlanOption]:
    """Predictions for speculative decoding with every draft length, both verify modes."""
    decode = _full(cloud, False, prompt_tokens)
    prefill = _full(cloud, True, prompt_tokens)
    opening = link.rtt_ms + link.transfer_ms(prompt_tokens * _TEXT_BYTES_PER_TOKEN) + prefill
    result = []
    for mode in ("exact", "batched"):
        for gamma in range(1, estimate.max_gamma + 1):
            tokens = expected_tokens(estimate.acceptance, gamma)
            verify = tokens * decode if mode == "exact" else max(decode, prefill / prompt_tokens * (gamma + 1))
            upload = gamma * _TEXT_BYTES_PER_TOKEN
            round_ms = gamma * estimate.draft_ms + link.rtt_ms + link.transfer_ms(upload) + verify
            result.append(
                PlanOption(
                    f"speculative@{gamma}/{mode}",
                    None,
                    None,
                    opening + round_ms,
                    round_ms / tokens,
                    verify / tokens,
                    round(upload / tokens),
                )
            )
    return result


def plan(
    edge: NodeProfile,
    cloud: NodeProfile,
    link: LinkEstimate,
    prompt_tokens: int = 64,
    answer_tokens: int = 64,
    objective: Objective = "fastest",
    latency_budget_ms: float | None = None,
    allow_split: bool = True,
    allow_cloud: bool = True,
    speculative: SpeculativeEstimate | None = None,
) -> SplitPlan:
    """Every option's prediction and the choice for ``objective``."""
    table = options(edge, cloud, link, prompt_tokens, allow_split, allow_cloud)
    if speculative is not None and allow_cloud:  # drafts are text: allowed wherever text may leave
        table += speculative_options(cloud, link, prompt_tokens, speculative)
    if objective == "fastest":
        choice = min(table, key=lambda o: o.total_ms(answer_tokens))
    else:
        budget = latency_budget_ms if latency_budget_ms is not None else float("inf")
        within = [o for o in table if o.total_ms(answer_tokens) <= budget] or [
            min(table, key=lambda o: o.total_ms(answer_tokens))
        ]
        choice = min(within, key=lambda o: (o.cloud_ms_per_token, o.total_ms(answer_tokens)))
    return SplitPlan(table, choice, objective, answer_tokens)


async def measure_link(client: UpstreamClient, probe_bytes: int = 256 * 1024, repeats: int = 3) -> LinkEstimate:
    """Round trip (``/healthz``) and bandwidth (``/v1/link/probe``) to an upstream, medians of ``repeats``."""
    samples = [await client.measure(probe_bytes) for _ in range(repeats)]
    return LinkEstimate(
        statistics.median(s.rtt_ms for s in samples), statistics.median(s.bandwidth_mbps for s in samples)
    )


async def fetch_profile(client: UpstreamClient) -> NodeProfile:
    """The upstream's profile of its split model (it measures on the first request, hence the long limit)."""
    response = await client.call("GET", "/v1/split/profile", what="split upstream", timeout=600)
    return NodeProfile.model_validate(response.json())


async def measure_upstream(base_url: str, token: str | None) -> tuple[NodeProfile, LinkEstimate]:
    """For tools run outside a node: the upstream's profile and the link to it, over a client of their own."""
    from edgesplit.transport.upstream import UpstreamClient

    client = UpstreamClient(base_url, token, timeout_s=30)
    try:
        return await fetch_profile(client), await measure_link(client)
    finally:
        await client.aclose()
