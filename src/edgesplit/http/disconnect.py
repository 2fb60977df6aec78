"""Work nobody waits for is cancelled: a client that goes away stops its generation.

A streamed answer already stops when its client leaves (Starlette's StreamingResponse listens
for the disconnect and closes the generator, which frees the model's slot). This covers what
runs before the first byte is sent: a whole non-streamed answer, the local check of a cascade,
a stream waiting for its first token. Each waits on the ASGI ``receive`` for
``http.disconnect`` beside the work and cancels the work when it comes. A client's own
timeout closes its connection, so it counts the same.

An idempotent run (``Idempotency-Key``) is not watched: its result is stored for a retry to
fetch, so it finishes even when the caller has gone (within ``max_tokens`` and the shutdown
deadline).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable

from fastapi import Request, Response

from edgesplit.metrics import NodeMetrics

__all__ = ["CLIENT_GONE", "until_disconnected"]

log = logging.getLogger("edgesplit.http")

CLIENT_GONE = 499  # nginx's "client closed request": nobody reads it, but logs and tests do


async def until_disconnected(request: Request, work: Awaitable[Response], metrics: NodeMetrics) -> Response:
    """``work``'s response, or a 499 after cancelling it when the client disconnects first."""
    task = asyncio.ensure_future(work)
    watcher = asyncio.ensure_future(_disconnected(request))
    try:
        await asyncio.wait({task, watcher}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        watcher.cancel()
        if not task.done():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
    if task.cancelled():
        metrics.client_gone.inc()
        log.info("client went away before the answer: its generation was cancelled")
        return Response(status_code=CLIENT_GONE)
    return task.result()


async def _disconnected(request: Request) -> None:
    """Return when the client disconnects (the body was read already, so nothing else arrives)."""
    while (await request.receive())["type"] != "http.disconnect":
        pass
