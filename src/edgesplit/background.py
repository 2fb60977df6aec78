"""Background work that must not starve token generation: SQLite commits and batch-job redaction.

llama.cpp's compute threads meet at a barrier after every operation, so on a small machine a
few busy Python threads do not just take their share of the CPU: they stall generation for
seconds (measured in ``bench/offline.py``: a stream's p99 token gap went from 22 ms to 2.9 s while
1,000 jobs were queued). Work handed to :func:`run_in_background` runs in two threads at a
lower scheduling priority (``nice`` +10 on Linux), off the event loop, so the kernel gives the
generation threads the CPU first and the durable commit still completes before the caller goes on.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import os
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import ParamSpec, TypeVar

__all__ = ["BACKGROUND_NICE", "run_in_background"]

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
