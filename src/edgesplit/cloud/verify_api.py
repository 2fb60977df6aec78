"""HTTP routes for verify sessions (served by a cloud node that has a speculative model loaded)."""

from __future__ import annotations

import asyncio
from dataclasses import asdict
from typing import Any, Literal

from fastapi import FastAPI, Request, Response
from pydantic import BaseModel, ConfigDict, Field, model_validator

from edgesplit.cloud.verifier import Verifier
from edgesplit.generation import Prompt
from edgesplit.http.admit import parse_body
from edgesplit.http.openapi import json_body
from edgesplit.schemas import VerifyChoice, VerifyMode

__all__ = [
    "OpenVerifySession",
    "VerifyInfo",
    "VerifyRequest",
    "VerifySessionOpened",
    "VerifyStep",
    "add_speculative_routes",
]

_MAX_TEXT = 64 * 1024
_MAX_IDS = 4096  # token ids per verify call (the verifier's own max_draft_tokens is lower)


class _Message(BaseModel):
    model_config = ConfigDict(extra="forbid")

    role: str = Field(min_length=1, max_length=32)
    content: str = Field(max_length=_MAX_TEXT * 8)


class OpenVerifySession(BaseModel):
    """``POST /v1/speculative/sessions``: the prompt as chat messages or raw text, plus the answer so far."""

    model_config = ConfigDict(extra="forbid")

    model: str = "default"
    messages: list[_Message] | None = None
    prompt: str | None = Field(default=None, max_length=_MAX_TEXT * 8)
    continuation: str = Field(default="", max_length=_MAX_TEXT * 8)  # answer text already verified (re-open)
    # answer tokens already verified, as this model's ids (a re-open by a drafter of the same vocabulary)
    continuation_ids: list[int] | None = Field(default=None, max_length=_MAX_IDS * 8)
    max_tokens: int | None = Field(default=None, ge=1)
    verify: VerifyChoice = "exact"
    drafter_vocab: str | None = Field(default=None, max_length=128)  # the drafter's vocabulary fingerprint

    @model_validator(mode="after")
    def _one_prompt(self) -> OpenVerifySession:
        if (self.messages is None) == (self.prompt is None):
            raise ValueError("give exactly one of messages and prompt")
        if self.messages is not None and not self.messages:
            raise ValueError("messages must not be empty")
        return self

    def as_prompt(self) -> Prompt:
        if self.messages is not None:
            messages = tuple((m.role, m.content) for m in self.messages)
            return Prompt(messages=messages, continuation=self.continuation)
        return Prompt(text=self.prompt, continuation=self.continuation)


class VerifyRequest(BaseModel):
    """``POST /v1/speculative/sessions/{id}/verify``: text appended unchecked, then the draft to check."""

    model_config = ConfigDict(extra="forbid")

    draft: str = Field(default="", max_length=_MAX_TEXT)
    commit: str = Field(default="", max_length=_MAX_TEXT)
    # the same as this model's token ids, from a drafter whose vocabulary fingerprint matches ours:
    # checked as they are, never tokenized; the text fields are then what the edge has shown
    draft_ids: list[int] | None = Field(default=None, max_length=_MAX_IDS)
    commit_ids: list[int] | None = Field(default=None, max_length=_MAX_IDS)


class VerifyInfo(BaseModel):
    """``GET /v1/speculative/info``: the verifying model, its sessions and the compute it spent."""

    model: str
    sessions: int
    max_draft_tokens: int
    passes: int  # forward passes since start
    busy_s: float  # compute seconds since start
    vocab: str  # vocabulary fingerprint: a drafter with the same one may send token ids


class VerifySessionOpened(BaseModel):
    """``POST /v1/speculative/sessions``: the session, its prompt length and the verification mode chosen."""

    id: str
    model: str
    prompt_tokens: int
    max_tokens: int
    verify: VerifyMode
    ttl_s: float
    vocab: str


class VerifyStep(BaseModel):
    """``POST /v1/speculative/sessions/{id}/verify``: what was kept (``cloud/verifier.py``'s VerifyResult)."""

    text: str  # new answer text: accepted draft and the cloud's own token (complete UTF-8 only)
    tokens: int
    ids: list[int]
    drafted: int
    accepted: int
    committed: int
    committed_agreed: int
    passes: int
    evaluated: int
    verify_ms: float
    finished: bool
    finish_reason: Literal["stop", "length"] | None


def add_speculative_routes(app: FastAPI, verifier: Verifier, default_max_tokens: int) -> None:
    @app.get("/v1/speculative/info", response_model=VerifyInfo)
    async def info() -> dict[str, Any]:
        return {
            "model": verifier.model_name,
            "sessions": len(verifier),
            "max_draft_tokens": verifier.max_draft_tokens,
            "passes": verifier.passes,
            "busy_s": verifier.busy_s,
            "vocab": verifier.vocab_fingerprint,
        }

    @app.post(
        "/v1/speculative/sessions",
        status_code=201,
        response_model=VerifySessionOpened,
        openapi_extra=json_body(OpenVerifySession),
    )
    async def open_session(request: Request) -> dict[str, Any]:
        body: OpenVerifySession = parse_body(OpenVerifySession, await request.body(), "speculative session request")
        session = await asyncio.to_thread(
            verifier.open,
            body.model,
            body.as_prompt(),
            body.max_tokens,
            default_max_tokens,
            _mode(body, verifier),
            body.continuation_ids,
        )
        return {
            "id": session.id,
            "model": verifier.model_name,
            "prompt_tokens": session.prompt_len,
            "max_tokens": session.max_tokens,
            "verify": session.mode,
            "ttl_s": verifier.ttl_s,
            "vocab": verifier.vocab_fingerprint,  # a drafter with this fingerprint may send token ids
        }

    @app.post(
        "/v1/speculative/sessions/{session_id}/verify",
        response_model=VerifyStep,
        openapi_extra=json_body(VerifyRequest),
    )
    async def verify(session_id: str, request: Request) -> dict[str, Any]:
        session = verifier.get(session_id)
        body: VerifyRequest = parse_body(VerifyRequest, await request.body(), "verify request")
        loop = asyncio.get_running_loop()
        result = await loop.run_in_executor(
            verifier.executor, verifier.verify, session, body.draft, body.commit, body.draft_ids, body.commit_ids
        )
        return asdict(result)

    @app.delete("/v1/speculative/sessions/{session_id}", status_code=204)
    async def close_session(session_id: str) -> Response:
        verifier.close(session_id)
        return Response(status_code=204)


def _mode(body: OpenVerifySession, verifier: Verifier) -> VerifyMode:
    """``auto``: batched when the drafter numbers tokens as this model does (it drafts token ids from
    a smaller version of this model, so most of each block is kept), exact otherwise."""
    if body.verify != "auto":
        return body.verify
    return "batched" if body.drafter_vocab == verifier.vocab_fingerprint else "exact"
