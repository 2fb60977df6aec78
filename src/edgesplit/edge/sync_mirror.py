"""The local tier as its devices' way to the cloud for sync and feedback: ``/v1/sync/metadata``,
``/v1/sync/targets`` and ``/v1/feedback/batch`` relayed through the local tier's one upstream client.

Devices behind a local server cannot reach the cloud, so the local tier passes their TUF requests
up, ``Range`` included, and streams the answers back unchanged. Nothing is trusted here: each
device verifies every signature, length and hash against its own root, exactly as it would
talking to the cloud. A feedback batch keeps its idempotency key, so the cloud stores it once
however often a device retries it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import httpx
from fastapi import Request
from starlette.responses import Response, StreamingResponse

from edgesplit.errors import NotFound, UpstreamError

if TYPE_CHECKING:
    from fastapi import FastAPI

    from edgesplit.transport.upstream import UpstreamClient

__all__ = ["add_sync_mirror_routes"]

_REQUEST_HEADERS = ("range", "if-range")
_ANSWER_HEADERS = ("content-length", "content-range", "accept-ranges", "content-type", "etag", "last-modified")


def add_sync_mirror_routes(app: FastAPI, client: UpstreamClient) -> None:

    async def relay(request: Request) -> StreamingResponse:
        return await _relay(client, request)

    async def relay_feedback(request: Request) -> Response:
        headers = {"idempotency-key": request.headers.get("idempotency-key", ""), "content-type": "application/json"}
        answer = await client.request("POST", "/v1/feedback/batch", what="feedback relay", content=await request.body(),
                                      headers=headers)  # fmt: skip
        return Response(answer.content, status_code=answer.status_code, media_type="application/json")

    app.add_api_route("/v1/sync/metadata/{name}", relay, methods=["GET"])
    app.add_api_route("/v1/sync/targets/{path:path}", relay, methods=["GET"])
    app.add_api_route("/v1/feedback/batch", relay_feedback, methods=["POST"])


async def _relay(client: UpstreamClient, request: Request) -> StreamingResponse:
    from starlette.background import BackgroundTask

    headers = {name: value for name in _REQUEST_HEADERS if (value := request.headers.get(name))}
    # the path as it came, still percent-encoded: decoded, a name with control characters is no URL
    path = request.scope.get("raw_path", b"").decode("ascii", "replace") or request.url.path
    try:
        upstream = await client.send_streaming("GET", path, headers)
    except httpx.InvalidURL:
        raise NotFound(f"no sync file at {path!r}", code="not_found") from None
    except httpx.HTTPError as exc:
        raise UpstreamError(f"sync repository upstream unreachable: {type(exc).__name__}") from None
    answer = {name: value for name in _ANSWER_HEADERS if (value := upstream.headers.get(name))}
    done = BackgroundTask(upstream.aclose)
    return StreamingResponse(upstream.aiter_raw(), status_code=upstream.status_code, headers=answer, background=done)
