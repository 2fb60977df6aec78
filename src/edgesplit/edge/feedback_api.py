"""``POST /v1/feedback``: a user's verdict on an edge answer, by the response's ``id``."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal

from fastapi import Request
from pydantic import BaseModel

from edgesplit.http.admit import parse_body, read_body
from edgesplit.http.node import apply_mark
from edgesplit.http.openapi import json_body
from edgesplit.schemas import FeedbackMark

if TYPE_CHECKING:
    from fastapi import FastAPI

    from edgesplit.edge.feedback import FeedbackRecorder

__all__ = ["FeedbackAck", "FeedbackRecorded", "add_feedback_mark_route"]


class FeedbackAck(BaseModel):
    """``POST /v1/feedback``: the verdict, recorded."""

    object: Literal["feedback"]
    response_id: str
    rating: Literal["good", "bad"]


class FeedbackRecorded(BaseModel):
    """``GET /v1/feedback/recorded``: verdicts and hard cases this node recorded, and what waits to go up."""

    recorded: dict[str, int]  # by kind
    pending: int  # hard cases not yet sent upstream
    remembered: int  # recent local answers a verdict can still name


def add_feedback_mark_route(app: FastAPI, recorder: FeedbackRecorder) -> None:
    async def feedback(request: Request) -> dict[str, Any]:
        mark = parse_body(FeedbackMark, await read_body(request, 64 * 1024), "feedback")
        await apply_mark(recorder, mark)
        return {"object": "feedback", "response_id": mark.response_id, "rating": mark.rating}

    async def stats() -> dict[str, Any]:
        return recorder.stats()

    app.add_api_route(
        "/v1/feedback", feedback, methods=["POST"], response_model=FeedbackAck, openapi_extra=json_body(FeedbackMark)
    )
    app.add_api_route("/v1/feedback/recorded", stats, methods=["GET"], response_model=FeedbackRecorded)
