"""OpenAI-compatible wire models (requests, responses, stream chunks) and edgesplit metadata.

Requests are strict: an argument the OpenAI API defines but edgesplit does not implement,
or an argument nobody defines, is rejected with a 400 naming it rather than silently ignored.
Responses carry an extra ``edgesplit`` object; the OpenAI SDK keeps unknown fields, so
``completion.model_extra["edgesplit"]`` (or ``completion.edgesplit``) reads it.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

__all__ = [
    "PRIVACY_ACTIONS",
    "Candidate",
    "ChatCompletionRequest",
    "ChatMessage",
    "CompletionRequest",
    "EdgesplitOptions",
    "FeedbackMark",
    "Hop",
    "JobRecord",
    "JobStatus",
    "LinkInfo",
    "OnUnavailable",
    "PlanOption",
    "Priority",
    "PrivacyAction",
    "RouteInfo",
    "RouteName",
    "SplitPlanInfo",
    "TextPart",
    "UpstreamScope",
    "VerifyChoice",
    "VerifyMode",
]

RouteName = Literal["edge", "cloud", "split", "speculative", "auto"]
VerifyMode = Literal["exact", "batched"]  # how the cloud verifies a draft (see cloud/verifier.py)
# what a session asks for: auto = batched for a drafter of the verifier's own vocabulary, exact otherwise
VerifyChoice = Literal["auto", "exact", "batched"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class TextPart(_Strict):
    type: Literal["text"]
    text: str


class ChatMessage(_Strict):
    role: Literal["system", "developer", "user", "assistant"]
    content: str | list[TextPart]
    name: str | None = None

    def text(self) -> str:
        """The message content as one string (text parts joined)."""
        if isinstance(self.content, str):
            return self.content
        return "".join(part.text for part in self.content)


Priority = Literal["interactive", "batch"]
# What may leave a tier, loosest to strictest (privacy/policy.py): as is, redacted, to on-premises
# tiers only (an upstream whose upstream_scope is "site"), never past this tier, or refused.
PrivacyAction = Literal["allow", "redact", "site-only", "local-only", "refuse"]
PRIVACY_ACTIONS: tuple[PrivacyAction, ...] = ("allow", "redact", "site-only", "local-only", "refuse")
UpstreamScope = Literal["site", "cloud"]  # where a tier's upstream runs: on premises, or outside
# how an upstream takes up a chat answer begun elsewhere (config.UpstreamConfig.continues)
ContinueMode = Literal["flag", "prefill", "none"]
OnUnavailable = Literal["fallback", "defer", "error"]


class FeedbackMark(_Strict):
    """A user's verdict on an earlier answer of this node (``edgesplit.feedback`` or ``POST /v1/feedback``)."""

    response_id: str = Field(min_length=1, max_length=100)
    rating: Literal["good", "bad"]


class Candidate(BaseModel):
    """A hard case the edge sends up, redacted: the prompt, the edge's answer, how it was routed."""

    model_config = ConfigDict(extra="ignore")

    id: str = Field(min_length=1, max_length=100)
    kind: Literal["escalated", "marked_bad", "shadow"]
    tier: str = "device"
    edge_model: str
    router: str | None = None
    score: float | None = None
    messages: list[dict[str, str]] = Field(min_length=1, max_length=64)
    answer: str | None = None
    at: float = 0.0

    @property
    def prompt(self) -> str:
        """The last user turn: what the eval harness asks every tier."""
        users = [m.get("content", "") for m in self.messages if m.get("role") == "user"]
        return users[-1] if users else self.messages[-1].get("content", "")


class EdgesplitOptions(_Strict):
    """Per-request edgesplit controls, sent as ``extra_body={"edgesplit": {...}}``."""

    route: RouteName | None = None
    priority: Priority | None = None  # "batch": store in the outbox, answer 202 with a job id
    on_cloud_unavailable: OnUnavailable | None = None  # what to do when the cloud cannot be reached
    callback_url: str | None = Field(default=None, pattern=r"^https?://")  # POSTed the job record when done
    privacy: PrivacyAction | None = None  # may only tighten configured rules
    source: str | None = Field(default=None, max_length=200)  # where the data comes from, for privacy rules
    conversation: str | None = Field(default=None, max_length=200)  # keeps placeholders stable across requests
    # speculative route: show edge tokens at least this likely without verifying them (not lossless);
    # true = the configured threshold
    speculative_skip: bool | float | None = None
    # learned router hints: tags its rules act on, and the time the client can wait for an answer
    tags: list[Annotated[str, Field(min_length=1, max_length=64)]] = Field(default_factory=list, max_length=16)
    latency_budget_ms: float | None = Field(default=None, gt=0)
    feedback: FeedbackMark | None = None  # the verdict on an earlier local answer (a hard case if bad)

    @field_validator("speculative_skip")
    @classmethod
    def _probability(cls, value: bool | float | None) -> bool | float | None:
        if isinstance(value, float) and not 0 < value < 1:
            raise ValueError("speculative_skip must be true, false or a probability in (0, 1)")
        return value


class StreamOptions(_Strict):
    include_usage: bool = False


class _SamplingRequest(_Strict):
    model: str = Field(min_length=1)
    max_tokens: int | None = Field(default=None, ge=1)
    temperature: float = Field(default=1.0, ge=0.0, le=2.0)
    top_p: float = Field(default=1.0, gt=0.0, le=1.0)
    seed: int | None = None
    stop: str | list[str] | None = None
    stream: bool = False
    stream_options: StreamOptions | None = None
    n: Literal[1] = 1
    presence_penalty: float = Field(default=0.0, ge=-2.0, le=2.0)
    frequency_penalty: float = Field(default=0.0, ge=-2.0, le=2.0)
    user: str | None = None
    metadata: dict[str, str] | None = None
    edgesplit: EdgesplitOptions | None = None

    @field_validator("stop")
    @classmethod
    def _check_stop(cls, value: str | list[str] | None) -> str | list[str] | None:
        stops = [value] if isinstance(value, str) else (value or [])
        if len(stops) > 4 or any(not s for s in stops):
            raise ValueError("stop: at most 4 non-empty sequences")
        return value

    def stop_list(self) -> list[str]:
        if self.stop is None:
            return []
        return [self.stop] if isinstance(self.stop, str) else list(self.stop)


class ChatCompletionRequest(_SamplingRequest):
    messages: Annotated[list[ChatMessage], Field(min_length=1)]
    logprobs: bool = False
    top_logprobs: int | None = Field(default=None, ge=0, le=20)
    max_completion_tokens: int | None = Field(default=None, ge=1)
    # vLLM's extension: the final (assistant) message is an answer begun elsewhere; continue it
    continue_final_message: bool = False
    add_generation_prompt: bool | None = None  # accepted for vLLM clients; False with continue_final_message

    @model_validator(mode="after")
    def _continuable(self) -> ChatCompletionRequest:
        if self.continue_final_message and (self.messages[-1].role != "assistant" or len(self.messages) < 2):
            raise ValueError("continue_final_message: the final message must be the assistant's, after another")
        if self.continue_final_message and self.add_generation_prompt:
            raise ValueError("add_generation_prompt: cannot be true with continue_final_message")
        return self

    def requested_max_tokens(self) -> int | None:
        return self.max_completion_tokens or self.max_tokens


class CompletionRequest(_SamplingRequest):
    prompt: str | list[str]
    logprobs: int | None = Field(default=None, ge=0, le=5)
    echo: Literal[False] = False

    @field_validator("prompt")
    @classmethod
    def _one_prompt(cls, value: str | list[str]) -> str | list[str]:
        if isinstance(value, list) and len(value) != 1:
            raise ValueError("prompt: exactly one prompt per request is supported")
        return value

    def prompt_text(self) -> str:
        return self.prompt if isinstance(self.prompt, str) else self.prompt[0]

    def requested_max_tokens(self) -> int | None:
        return self.max_tokens


class Hop(BaseModel):
    """One tier a request passed through, as that tier reports it (device first, the serving tier last)."""

    tier: str  # device | local | cloud, or "upstream" for a plain OpenAI-compatible server
    model: str | None = None  # the tier's own model (it routed with it, or answered with it)
    route: str | None = None  # what the tier did: edge = answered itself; cloud = sent it up; split, speculative
    rule: str | None = None  # why (RouteInfo.rule)
    score: float | None = None  # the learned router's score, or the cascade's confidence
    fallback: bool = False  # it wanted its upstream and answered itself
    served: bool = False  # this tier's model wrote the answer (the last hop, unless split or speculative)
    latency_ms: float | None = None  # from the tier receiving the request to its last token


class RouteInfo(BaseModel):
    """Where a response was served and why; sent as the ``edgesplit`` field and ``x-edgesplit-*`` headers."""

    route: Literal["edge", "cloud", "split", "speculative"]
    rule: Literal[
        "forced",
        "local-only",
        "cascade-kept",
        "cascade-escalated",
        "rule",
        "learned-kept",
        "learned-escalated",
        "no-upstream",
        "fallback",
    ]
    reason: str  # for people: the numbers behind the rule
    requested: RouteName = "auto"
    confidence: float | None = None  # mean token log-prob of the edge answer (probe or whole)
    threshold: float | None = None
    score: float | None = None  # learned router: expected quality change if the edge answers
    router: str | None = None  # learned router: the artifact version that decided
    fallback: bool = False  # the route wanted the cloud but the edge answered
    upstream_error: str | None = None
    privacy: dict[str, Any] | None = None  # action, rule, redacted counts by type (never values)
    hops: list[Hop] = Field(default_factory=list)  # every tier on the way, this one first; set at the end
    preprocessing: list[dict[str, Any]] = Field(default_factory=list)  # pre-processors applied here, in order

    def headers(self) -> dict[str, str]:
        return {
            "x-edgesplit-route": self.route,
            "x-edgesplit-rule": self.rule,
            "x-edgesplit-reason": self.reason.encode("ascii", "replace").decode()[:200],
            "x-edgesplit-fallback": "true" if self.fallback else "false",
        }


JobStatus = Literal["queued", "delivering", "done", "failed"]


class JobRecord(BaseModel):
    """A deferred request in the edge's outbox, as ``GET /v1/jobs/{id}`` shows it."""

    id: str
    object: Literal["edgesplit.job"] = "edgesplit.job"
    status: JobStatus
    kind: Literal["chat", "text", "feedback"]
    created: float  # unix seconds
    completed: float | None = None
    attempts: int = 0
    next_attempt_at: float | None = None  # unix seconds
    last_error: str | None = None
    callback_url: str | None = None
    result: dict[str, Any] | None = None  # the upstream's OpenAI response, once done
    restored: bool | None = None  # placeholders in the result replaced by the original values


class PlanOption(BaseModel):
    name: str  # edge, cloud, split@k, ...
    ttft_ms: float  # predicted time to first token
    per_token_ms: float  # predicted time per further token
    cloud_ms_per_token: float  # cloud compute each token costs


class LinkInfo(BaseModel):
    rtt_ms: float | None
    bandwidth_mbps: float | None


class SplitPlanInfo(BaseModel):
    """``GET /v1/split/plan``: the choice, the link it was planned for, and the best options."""

    planned: bool
    objective: str | None = None
    link: LinkInfo | None = None
    choice: str | None = None
    split_k: int | None = None  # layers the edge runs
    split_codec: str | None = None
    options: list[PlanOption] = []  # the eight best, fastest first
