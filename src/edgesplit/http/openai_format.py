"""Token events → OpenAI response bodies: chat and text completions, whole or as SSE chunks."""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass, field
from typing import Any, Literal

import orjson
from fastapi.responses import JSONResponse

from edgesplit.generation import Finish, TokenEvent
from edgesplit.schemas import RouteInfo

__all__ = ["FastJSONResponse", "ResponseBuilder", "sse"]

Kind = Literal["chat", "text"]


def sse(payload: dict[str, Any] | str) -> bytes:
    """One server-sent event; dicts are JSON-encoded."""
    data = payload.encode() if isinstance(payload, str) else orjson.dumps(payload)
    return b"data: " + data + b"\n\n"


class FastJSONResponse(JSONResponse):
    """A response body encoded by orjson: the same JSON as Starlette's, a few times faster."""

    def render(self, content: Any) -> bytes:
        return orjson.dumps(content)


@dataclass
class ResponseBuilder:
    """Shapes events as ``chat.completion`` or ``text_completion`` objects for one request."""

    kind: Kind
    model: str
    logprobs: bool = False
    id: str = field(default_factory=lambda: f"cmpl-{uuid.uuid4().hex[:24]}")
    created: int = field(default_factory=lambda: int(time.time()))

    def _envelope(self, streaming: bool) -> dict[str, Any]:
        obj = "chat.completion" if self.kind == "chat" else "text_completion"
        if streaming and self.kind == "chat":
            obj = "chat.completion.chunk"
        return {"id": self.id, "object": obj, "created": self.created, "model": self.model}

    def _logprobs(self, events: list[TokenEvent]) -> dict[str, Any] | None:
        scored = [e for e in events if e.logprob is not None]
        if not self.logprobs or not scored:
            return None
        if self.kind == "chat":
            return {"content": [_chat_logprob(e) for e in scored]}
        return {
            "tokens": [e.text for e in scored],
            "token_logprobs": [e.logprob for e in scored],
            "top_logprobs": [dict(e.top_logprobs) for e in scored],
            "text_offset": _offsets(scored),
        }

    def chunk(self, event: TokenEvent, first: bool, route: RouteInfo | None) -> dict[str, Any]:
        """A streamed chunk for one token; the first chunk also carries the role and route."""
        body = self._envelope(streaming=True)
        choice: dict[str, Any] = {"index": 0, "finish_reason": None, "logprobs": self._logprobs([event])}
        if self.kind == "chat":
            delta: dict[str, Any] = {"content": event.text}
            if first:
                delta["role"] = "assistant"
            choice["delta"] = delta
        else:
            choice["text"] = event.text
        body["choices"] = [choice]
        if route is not None:
            body["edgesplit"] = route.model_dump(mode="json")
        return body

    def final_chunk(self, finish: Finish, route: RouteInfo) -> dict[str, Any]:
        body = self._envelope(streaming=True)
        choice: dict[str, Any] = {"index": 0, "finish_reason": finish.reason, "logprobs": None}
        if self.kind == "chat":
            choice["delta"] = {}
        else:
            choice["text"] = ""
        body["choices"] = [choice]
        body["edgesplit"] = route.model_dump(mode="json")
        return body

    def usage_chunk(self, finish: Finish) -> dict[str, Any]:
        body = self._envelope(streaming=True)
        body["choices"] = []
        body["usage"] = _usage(finish)
        return body

    def complete(self, events: list[TokenEvent], finish: Finish, route: RouteInfo) -> dict[str, Any]:
        """The whole, non-streamed response."""
        body = self._envelope(streaming=False)
        text = "".join(e.text for e in events)
        choice: dict[str, Any] = {"index": 0, "finish_reason": finish.reason, "logprobs": self._logprobs(events)}
        if self.kind == "chat":
            choice["message"] = {"role": "assistant", "content": text}
        else:
            choice["text"] = text
        body["choices"] = [choice]
        body["usage"] = _usage(finish)
        body["edgesplit"] = route.model_dump(mode="json")
        return body


def _chat_logprob(event: TokenEvent) -> dict[str, Any]:
    return {
        "token": event.text,
        "logprob": event.logprob,
        "bytes": list(event.text.encode("utf-8")),
        "top_logprobs": [
            {"token": tok, "logprob": lp, "bytes": list(tok.encode("utf-8"))} for tok, lp in event.top_logprobs
        ],
    }


def _offsets(events: list[TokenEvent]) -> list[int]:
    offsets, position = [], 0
    for event in events:
        offsets.append(position)
        position += len(event.text)
    return offsets


def _usage(finish: Finish) -> dict[str, int]:
    return {
        "prompt_tokens": finish.prompt_tokens,
        "completion_tokens": finish.completion_tokens,
        "total_tokens": finish.prompt_tokens + finish.completion_tokens,
    }
