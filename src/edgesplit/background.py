"""Background work that must not starve token generation: SQLite commits and batch-job redaction.

llama.cpp's compute threads meet at a barrier after every operation, so on a small machine a
few busy Python threads do not just take their share of the CPU: they stall generation for
seconds (measured in ``bench/offline.py``: a stream's p99 token gap went from 22 ms to 2.9 s while
1,000 jobs were queued). Work handed to :func:`run_in_background` runs in two threads at a
lower scheduling priority (``nice`` +10 on Linux), off the event loop, so the kernel gives the
generation threads the CPU first and the durable commit still completes before the caller goes on.

:func:`stop_task` ends a node's background loops (delivery, probes, sync, feedback, stats) at
shutdown: it cancels again until the task has ended, since one cancellation can be lost (Python
3.11's ``asyncio.wait_for`` returns normally when its awaitable finished in the same loop
iteration as the cancel, and a loop then goes on polling forever).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import os
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, ParamSpec, TypeVar

__all__ = ["BACKGROUND_NICE", "run_in_background", "stop_task"]

log = logging.getLogger("edgesplit")

P = ParamSpec("P")
T = TypeVar("T")
BACKGROUND_NICE = 10  # added to the process's niceness for background threads


def _lower_priority() -> None:
    """Thread initializer: this thread (not the process) gets a lower CPU priority."""
    with contextlib.suppress(AttributeError, OSError):  # no per-thread priority on this platform
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), os.getpriority(os.PRIO_PROCESS, 0) + BACKGROUND_NICE)


@functools.cache
def _executor() -> ThreadPoolExecutor:
    return ThreadPoolExecutor(max_workers=2, thread_name_prefix="edgesplit-background", initializer=_lower_priority)


async def run_in_background(fn: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
    """``fn(*args, **kwargs)`` in a low-priority worker thread; the caller awaits its result."""
    loop = asyncio.get_running_loop()
    return await loop.run_in_executor(_executor(), functools.partial(fn, *args, **kwargs))


async def stop_task(task: asyncio.Task[Any] | None, retry_s: float = 0.5) -> None:
    """Cancel ``task`` and wait until it has ended, cancelling again every ``retry_s`` until it does."""
    if task is None:
        return
    while not task.done():
        task.cancel()
        await asyncio.wait({task}, timeout=retry_s)
    if not task.cancelled() and (error := task.exception()) is not None:
        log.warning("background task %s had failed: %r", task.get_name(), error)
