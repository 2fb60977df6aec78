"""Upstream test doubles: tiny ASGI apps that misbehave on purpose (hang, fail, break mid-stream).

They stand in for a failing cloud at the HTTP level; the edge under test is always real.
:class:`RecordingProxy` is the exception: it passes everything to a real server and keeps a
copy of what was sent, so a test can check what left the edge.
"""

from __future__ import annotations

import asyncio
import json

import httpx
from starlette.applications import Starlette
from starlette.background import BackgroundTask
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

SLOW = "[slow]"  # in a message to RecordingEcho: its stream pauses twice for 1.2 s


def hanging_upstream(delay_s: float = 3600.0) -> Starlette:
    """Accepts the request and answers nothing for ``delay_s``."""

    async def handler(request: Request) -> Response:
        await asyncio.sleep(delay_s)
        return JSONResponse({})

    return Starlette(routes=[Route("/v1/chat/completions", handler, methods=["POST"])])


def failing_upstream(status: int = 500) -> Starlette:
    """Answers every generation with an OpenAI-style error."""

    async def handler(request: Request) -> Response:
        body = {"error": {"message": "boom", "type": "server_error", "param": None, "code": None}}
        return JSONResponse(body, status_code=status)

    return Starlette(routes=[Route("/v1/chat/completions", handler, methods=["POST"])])


def breaking_upstream(words: list[str]) -> Starlette:
    """Streams ``words`` as chat chunks, then drops the connection without ``[DONE]``."""

    async def handler(request: Request) -> Response:
        async def body():  # type: ignore[no-untyped-def]
            for word in words:
                chunk = {"choices": [{"index": 0, "delta": {"content": word}, "finish_reason": None}]}
                yield f"data: {json.dumps(chunk)}\n\n".encode()
                await asyncio.sleep(0.01)
            raise ConnectionResetError("upstream died mid-stream")

        return StreamingResponse(body(), media_type="text/event-stream")

    return Starlette(routes=[Route("/v1/chat/completions", handler, methods=["POST"])])


def silent_stream_upstream(delay_s: float = 3600.0) -> Starlette:
    """Sends the response headers at once, then no token for ``delay_s``."""

    async def handler(request: Request) -> Response:
        async def body():  # type: ignore[no-untyped-def]
            yield b": connected\n\n"
            await asyncio.sleep(delay_s)

        return StreamingResponse(body(), media_type="text/event-stream")

    return Starlette(routes=[Route("/v1/chat/completions", handler, methods=["POST"])])


class RecordingEcho:
    """An upstream that records every request body and answers with the last user message, echoed.

    A message holding ``SLOW`` streams with two 1.2 s gaps, after its first and second chunks.

    Streams come back in 1-3 character chunks (cycling), the hardest case for restoring
    placeholders; non-streamed requests (outbox deliveries) get a whole chat.completion.
    """

    def __init__(self) -> None:
        self.bodies: list[bytes] = []
        self.privacy: list[str | None] = []  # the x-edgesplit-privacy header of each request
        self.headers: list[dict[str, str]] = []
        self.app = Starlette(routes=[Route("/v1/chat/completions", self.handle, methods=["POST"])])

    async def handle(self, request: Request) -> Response:
        raw = await request.body()
        self.bodies.append(raw)
        self.privacy.append(request.headers.get("x-edgesplit-privacy"))
        self.headers.append(dict(request.headers))
        body = json.loads(raw)
        text = next(m["content"] for m in reversed(body["messages"]) if m["role"] == "user")
        if not body.get("stream"):
            message = {"role": "assistant", "content": text}
            return JSONResponse(
                {
                    "id": "echo",
                    "object": "chat.completion",
                    "created": 0,
                    "model": body["model"],
                    "choices": [{"index": 0, "message": message, "finish_reason": "stop"}],
                    "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
                }
            )

        async def chunks():  # type: ignore[no-untyped-def]
            i, size = 0, 1
            while i < len(text):
                if i in (1, 3) and SLOW in text:  # two gaps past the inter-token histogram's top bucket (1 s)
                    await asyncio.sleep(1.2)
                delta = {"content": text[i : i + size]}
                yield f"data: {json.dumps({'choices': [{'index': 0, 'delta': delta, 'finish_reason': None}]})}\n\n"
                i += size
                size = size % 3 + 1
            done = {"choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]}
            yield f"data: {json.dumps(done)}\n\ndata: [DONE]\n\n"

        return StreamingResponse(chunks(), media_type="text/event-stream")

    def seen(self) -> str:
        return b"\n".join(self.bodies).decode("utf-8")


class RecordingProxy:
    """A pass-through to ``target``: records each request body, streams the real answer back.

    ``fail_first``: the first that many POSTs get a 503, as from a load balancer whose server died.
    """

    def __init__(self, target: str, fail_first: int = 0) -> None:
        self.target = target
        self.fail_first = fail_first
        self.bodies: list[bytes] = []
        self.app = Starlette(routes=[Route("/{path:path}", self.handle, methods=["GET", "POST"])])

    async def handle(self, request: Request) -> Response:
        raw = await request.body()
        if request.method == "POST" and self.fail_first > 0:
            self.fail_first -= 1
            body = {"error": {"message": "no healthy replica", "type": "server_error", "param": None, "code": None}}
            return JSONResponse(body, status_code=503)
        self.bodies.append(raw)
        client = httpx.AsyncClient(base_url=self.target, timeout=120)
        headers = {key: value for key, value in request.headers.items() if key in ("content-type", "authorization")}
        upstream = client.build_request(request.method, request.url.path, content=raw, headers=headers)
        response = await client.send(upstream, stream=True)

        async def close() -> None:
            await response.aclose()
            await client.aclose()

        media = response.headers.get("content-type")
        return StreamingResponse(
            response.aiter_raw(), status_code=response.status_code, media_type=media, background=BackgroundTask(close)
        )

    def seen(self) -> str:
        return b"\n".join(self.bodies).decode("utf-8")


class HostileMirror:
    """A mirror between an edge and the cloud's sync repository that misbehaves on purpose.

    Every GET goes to ``target`` (``Range`` and the token passed on) unless a rule names the
    file (by the end of its path): ``withhold`` answers 404, ``fail`` answers 503, ``stall``
    never answers, ``corrupt`` flips one bit in the middle of the body, ``replay`` sends saved
    bytes instead, and ``rate_bps`` trickles every target body at that many bytes a second.
    """

    def __init__(self, target: str) -> None:
        self.target = target
        self.withhold: set[str] = set()
        self.fail: set[str] = set()
        self.stall: set[str] = set()
        self.corrupt: set[str] = set()
        self.replay: dict[str, bytes] = {}
        self.rate_bps: float | None = None
        self.requests: list[str] = []
        self.app = Starlette(routes=[Route("/{path:path}", self.handle, methods=["GET"])])

    def _names(self, path: str, rule: set[str] | dict[str, bytes]) -> bool:
        return any(path.endswith(name) for name in rule)

    async def handle(self, request: Request) -> Response:
        path = request.url.path
        self.requests.append(path)
        if self._names(path, self.withhold):
            return JSONResponse({"error": {"message": "not found", "type": "invalid_request_error"}}, status_code=404)
        if self._names(path, self.fail):
            return JSONResponse({"error": {"message": "bad gateway", "type": "server_error"}}, status_code=503)
        if self._names(path, self.stall):
            await asyncio.sleep(3600)
        for name, data in self.replay.items():
            if path.endswith(name):
                return Response(data, media_type="application/json")
        headers = {k: v for k, v in request.headers.items() if k in ("authorization", "range")}
        async with httpx.AsyncClient(base_url=self.target, timeout=120) as client:
            answer = await client.get(path, headers=headers)
        body = answer.content
        if self._names(path, self.corrupt) and body:
            flipped = bytearray(body)
            flipped[len(flipped) // 2] ^= 0x01
            body = bytes(flipped)
        kept = {k: v for k, v in answer.headers.items() if k in ("content-range", "accept-ranges", "content-type")}
        if self.rate_bps is not None and "/targets/" in path:
            return StreamingResponse(self._trickle(body), status_code=answer.status_code, headers=kept)
        return Response(body, status_code=answer.status_code, headers=kept)

    async def _trickle(self, body: bytes) -> object:
        assert self.rate_bps is not None
        step = max(1, int(self.rate_bps / 10))
        for start in range(0, len(body), step):
            yield body[start : start + step]
            await asyncio.sleep(0.1)
