"""The success bodies every node sends, as pydantic models, for the OpenAPI spec (``http/openapi.py``).

The OpenAI routes build their bodies in ``http/openai_format.py`` and answer with a raw
``Response`` (JSON or server-sent events), so these models describe them for clients and for
schemathesis without being in the answer's path: ``tests/test_api_fuzz.py`` holds every JSON
answer to the spec, and ``tests/test_response_models.py`` validates real answers, each streamed
chunk included (schemathesis does not read server-sent events). The node's own JSON routes
(jobs, health, models) declare them as FastAPI ``response_model``\\s.
Field names and meanings are OpenAI's (``chat.completion``, ``chat.completion.chunk``,
``text_completion``, ``list`` of ``model``), plus the ``edgesplit`` object: where the answer was
served and why (:class:`edgesplit.schemas.RouteInfo`).
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field, RootModel

from edgesplit.schemas import JobRecord, RouteInfo

__all__ = [
    "ChatCompletion",
    "ChatCompletionChunk",
    "Health",
    "JobList",
    "ModelCard",
    "ModelList",
    "StoredResult",
    "TextCompletion",
    "Usage",
]

FinishReason = Literal["stop", "length"]


class Usage(BaseModel):
    prompt_tokens: int = Field(ge=0)
    completion_tokens: int = Field(ge=0)
    total_tokens: int = Field(ge=0)


class _Envelope(BaseModel):
    id: str
    created: int
    model: str


class AssistantMessage(BaseModel):
    role: Literal["assistant"]
    content: str


class ChatChoice(BaseModel):
    index: int
    message: AssistantMessage
    finish_reason: FinishReason | None
    logprobs: dict[str, Any] | None = None  # OpenAI's {"content": [...]} when logprobs were asked for


class ChatCompletion(_Envelope):
    """``POST /v1/chat/completions`` without ``stream``."""

    object: Literal["chat.completion"]
    choices: list[ChatChoice]
    usage: Usage
    edgesplit: RouteInfo


class ChunkDelta(BaseModel):
    role: Literal["assistant"] | None = None  # the first chunk only
    content: str | None = None


class ChunkChoice(BaseModel):
    index: int
    delta: ChunkDelta
    finish_reason: FinishReason | None
    logprobs: dict[str, Any] | None = None


class ChatCompletionChunk(_Envelope):
    """One server-sent event of ``POST /v1/chat/completions`` with ``stream: true`` (``data: [DONE]`` ends them)."""

    object: Literal["chat.completion.chunk"]
    choices: list[ChunkChoice]  # empty in the usage chunk of stream_options.include_usage
    usage: Usage | None = None
    edgesplit: RouteInfo | None = None  # on the first and the last chunk


class TextChoice(BaseModel):
    index: int
    text: str
    finish_reason: FinishReason | None
    logprobs: dict[str, Any] | None = None  # OpenAI's tokens / token_logprobs / top_logprobs / text_offset


class TextCompletion(_Envelope):
    """``POST /v1/completions``; streamed, each event is one of these with one token's text."""

    object: Literal["text_completion"]
    choices: list[TextChoice]
    usage: Usage | None = None  # absent from streamed chunks but the usage one
    edgesplit: RouteInfo | None = None


class ModelCard(BaseModel):
    id: str
    object: Literal["model"]
    created: int
    owned_by: str


class ModelList(BaseModel):
    """``GET /v1/models``: the models this node serves."""

    object: Literal["list"]
    data: list[ModelCard]


class Health(BaseModel):
    """``GET /healthz``."""

    status: Literal["ok"]
    role: str
    model: str


class JobList(BaseModel):
    """``GET /v1/jobs``: deferred requests, newest first, and how many there are per status."""

    object: Literal["list"]
    data: list[JobRecord]
    counts: dict[str, int]  # by status


class StoredResult(RootModel[ChatCompletion | TextCompletion]):
    """``GET /v1/results/{key}``: the answer a deferred or idempotent request got, as first given."""
