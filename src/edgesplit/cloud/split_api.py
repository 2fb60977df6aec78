"""HTTP routes for split sessions (served by a node that has a split model loaded)."""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import FastAPI, Request, Response
from pydantic import BaseModel, ConfigDict, Field

from edgesplit.cloud.split_sessions import SessionStore
from edgesplit.engine.codec import Codec, decode_frame
from edgesplit.engine.profile import NodeProfile
from edgesplit.errors import InvalidRequest
from edgesplit.http.admit import parse_body
from edgesplit.http.openapi import binary_body, json_body

__all__ = ["OpenSession", "SplitInfo", "SplitSessionOpened", "SplitStep", "add_split_routes"]


class OpenSession(BaseModel):
    """``POST /v1/split/sessions`` body."""

    model_config = ConfigDict(extra="forbid")

    model: str = "default"
    k: int = Field(ge=0)
    codec: Codec = "int8o"
    temperature: float = Field(default=0.0, ge=0.0, le=2.0)
    top_p: float = Field(default=1.0, gt=0.0, le=1.0)
    seed: int | None = None


class SplitInfo(BaseModel):
    """``GET /v1/split/info``: the split model and how many sessions are open."""

    model: str
    n_layers: int
    dim: int
    sessions: int


class SplitSessionOpened(BaseModel):
    """``POST /v1/split/sessions``: the session; the edge sends layer ``k``'s hidden states as ``codec`` frames."""

    id: str
    model: str
    k: int
    n_layers: int
    dim: int
    codec: Codec
    ttl_s: float


class SplitStep(BaseModel):
    """``POST /v1/split/sessions/{id}/forward``: the next token after the frame's positions."""

    position: int
    token: int
    logprob: float


def add_split_routes(app: FastAPI, store: SessionStore, gguf_path: str) -> None:
    profile_cache: list[dict[str, Any]] = []
    profile_lock = asyncio.Lock()

    @app.get("/v1/split/profile", response_model=NodeProfile)
    async def profile() -> dict[str, Any]:
        """This node's measured compute profile (measured on first request, then cached)."""
        from edgesplit.engine.profile import profile_node

        async with profile_lock:
            if not profile_cache:
                measured = await asyncio.to_thread(profile_node, store.model_name, store.model, gguf_path)
                profile_cache.append(measured.model_dump())
        return profile_cache[0]

    @app.get("/v1/split/info", response_model=SplitInfo)
    async def info() -> dict[str, Any]:
        config = store.model.config
        return {"model": store.model_name, "n_layers": config.n_layers, "dim": config.dim, "sessions": len(store)}

    @app.post(
        "/v1/split/sessions", status_code=201, response_model=SplitSessionOpened, openapi_extra=json_body(OpenSession)
    )
    async def open_session(request: Request) -> dict[str, Any]:
        body = parse_body(OpenSession, await request.body(), "split session request")
        session = store.open(body.model, body.k, body.codec, body.temperature, body.top_p, body.seed)
        return {
            "id": session.id,
            "model": session.model,
            "k": session.k,
            "n_layers": store.n_layers,
            "dim": store.model.config.dim,
            "codec": session.codec,
            "ttl_s": store.ttl_s,
        }

    @app.post(
        "/v1/split/sessions/{session_id}/forward",
        response_model=SplitStep,
        openapi_extra=binary_body("a tensor frame (engine/codec.py)"),
    )
    async def forward(session_id: str, request: Request) -> dict[str, Any]:
        session = store.get(session_id)
        data = await request.body()  # bounded by split_max_frame_bytes in the Guard (http/guard.py)
        frame, codec = decode_frame(data, expected_dim=store.model.config.dim)
        if codec != session.codec:
            raise InvalidRequest(
                f"session uses {session.codec} frames, got {codec}", param="frame", code="invalid_frame"
            )
        result = await asyncio.to_thread(store.step, session, frame)
        return {"position": result.position, "token": result.token, "logprob": result.logprob}

    @app.delete("/v1/split/sessions/{session_id}", status_code=204)
    async def close_session(session_id: str) -> Response:
        store.close(session_id)
        return Response(status_code=204)
