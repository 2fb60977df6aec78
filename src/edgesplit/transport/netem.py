"""A user-space link emulator: a TCP proxy that adds latency, jitter, a bandwidth cap, loss and outages.

Tests and benchmarks put it between tiers on loopback (edge → emulator → cloud), so the same
traffic runs over "lan", "4g", "satellite", "flaky" or "down" without kernel tools.

Each direction of each connection is a FIFO pipe: a chunk read at time t is written at
``max(t + latency ± jitter (+ loss penalty), previous delivery) + size / bandwidth``, so order
is kept and a bandwidth cap queues bytes like a real bottleneck. Loss is modelled as delay
(TCP retransmits rather than drops): with probability ``loss_pct`` a chunk waits an extra
``loss_penalty_ms``. Outages, on command: ``refuse`` (new connections are reset),
``cut`` (open connections are reset too), ``blackhole`` (everything is accepted, nothing
is forwarded, so callers hit their timeouts).
"""

from __future__ import annotations

import asyncio
import random
import threading
from dataclasses import dataclass, replace
from typing import Literal

from edgesplit.errors import ConfigError, EdgesplitError

__all__ = ["PROFILES", "LinkEmulator", "LinkProfile", "Outage"]

Outage = Literal["refuse", "cut", "blackhole"]
_CHUNK_BYTES = 16 * 1024


@dataclass(frozen=True)
class LinkProfile:
    """Link properties, applied to each direction."""

    name: str
    latency_ms: float = 0.0  # one-way delay
    jitter_ms: float = 0.0  # uniform ± around the latency
    bandwidth_mbps: float | None = None  # per-direction cap; None = unlimited
    loss_pct: float = 0.0  # chance a chunk is "retransmitted" (delayed), 0..100
    loss_penalty_ms: float = 200.0
    outage: Outage | None = None


PROFILES: dict[str, LinkProfile] = {
    "lan": LinkProfile("lan", latency_ms=0.5, jitter_ms=0.1, bandwidth_mbps=1000),
    "4g": LinkProfile("4g", latency_ms=25, jitter_ms=8, bandwidth_mbps=20, loss_pct=0.5),
    "satellite": LinkProfile("satellite", latency_ms=300, jitter_ms=20, bandwidth_mbps=5, loss_pct=1),
    "flaky": LinkProfile("flaky", latency_ms=40, jitter_ms=30, bandwidth_mbps=10, loss_pct=5, loss_penalty_ms=400),
    "down": LinkProfile("down", outage="cut"),  # a link that goes down takes its open connections with it
}


def profile(name: str) -> LinkProfile:
    """A named profile; unknown names raise ConfigError listing the known ones."""
    try:
        return PROFILES[name]
    except KeyError:
        raise ConfigError(f"unknown link profile {name!r}; known: {', '.join(PROFILES)}") from None


class _Pipe:
    """One direction of one connection: delays, paces and forwards chunks in order."""

    def __init__(self, emulator: LinkEmulator, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.emulator = emulator
        self.reader = reader
        self.writer = writer
        self.queue: asyncio.Queue[tuple[float, bytes]] = asyncio.Queue()
        self.last_delivery = 0.0

    def schedule(self, data: bytes, now: float) -> float:
        link = self.emulator.profile
        delay = link.latency_ms + random.uniform(-link.jitter_ms, link.jitter_ms)
        if link.loss_pct and random.random() * 100 < link.loss_pct:
            delay += link.loss_penalty_ms
        start = max(now + max(delay, 0.0) / 1000, self.last_delivery)
        tx_s = len(data) * 8 / (link.bandwidth_mbps * 1e6) if link.bandwidth_mbps else 0.0
        self.last_delivery = start + tx_s
        return self.last_delivery

    async def read_side(self) -> None:
        loop = asyncio.get_running_loop()
        while data := await self.reader.read(_CHUNK_BYTES):
            await self.queue.put((self.schedule(data, loop.time()), data))
        await self.queue.put((0.0, b""))

    async def write_side(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            deliver_at, data = await self.queue.get()
            if not data:
                break
            await asyncio.sleep(max(0.0, deliver_at - loop.time()))
            await self.emulator.passable.wait()  # blackhole: hold everything
            self.writer.write(data)
            await self.writer.drain()
        if self.writer.can_write_eof():
            self.writer.write_eof()


class LinkEmulator:
    """A TCP proxy from ``listen_port`` to ``target``, shaped by a :class:`LinkProfile`.

    Runs on its own event loop thread: :meth:`start` returns once it listens; the setters are
    thread-safe and take effect for new chunks at once.
    """

    def __init__(
        self, target_host: str, target_port: int, link: LinkProfile | str = "lan", listen_host: str = "127.0.0.1"
    ) -> None:
        self.target = (target_host, target_port)
        self.listen_host = listen_host
        self.profile = profile(link) if isinstance(link, str) else link
        self.port = 0
        self.connections_total = 0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self._started = threading.Event()
        self._stop: asyncio.Event | None = None
        self._thread = threading.Thread(target=self._run, name="edgesplit-netem", daemon=True)
        self.passable = asyncio.Event()

    @property
    def url(self) -> str:
        return f"http://{self.listen_host}:{self.port}"

    def start(self, timeout_s: float = 10.0) -> LinkEmulator:
        self._thread.start()
        if not self._started.wait(timeout_s) or not self.port:
            raise EdgesplitError("link emulator did not start")
        return self

    def stop(self) -> None:
        if self._loop is not None and self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(timeout=10)

    def __enter__(self) -> LinkEmulator:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def set_profile(self, link: LinkProfile | str) -> None:
        """Switch link properties (and outage state) for everything from now on."""
        new = profile(link) if isinstance(link, str) else link
        self._call_apply(new)

    def outage(self, mode: Outage = "refuse") -> None:
        """Start an outage: ``refuse`` new connections, ``cut`` open ones too, or ``blackhole``."""
        self.set_profile(replace(self.profile, outage=mode))

    def restore(self) -> None:
        """End an outage, keeping the latency/bandwidth properties."""
        self.set_profile(replace(self.profile, outage=None))

    def _call_apply(self, new: LinkProfile) -> None:
        if self._loop is None:  # not started yet
            self.profile = new
            return
        done = threading.Event()

        def run() -> None:
            self._apply(new)
            done.set()

        self._loop.call_soon_threadsafe(run)
        done.wait(5)

    def _apply(self, new: LinkProfile) -> None:
        self.profile = new
        if new.outage == "blackhole":
            self.passable.clear()
        else:
            self.passable.set()
        if new.outage == "cut":
            for writer in list(self._writers):
                writer.transport.abort()

    def _run(self) -> None:
        asyncio.run(self._serve())

    async def _serve(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        self.passable = asyncio.Event()
        self._apply(self.profile)
        server = await asyncio.start_server(self._handle, self.listen_host, 0)
        self.port = server.sockets[0].getsockname()[1]
        self._started.set()
        async with server:
            await self._stop.wait()
            for writer in list(self._writers):
                writer.transport.abort()

    async def _handle(self, client_reader: asyncio.StreamReader, client_writer: asyncio.StreamWriter) -> None:
        self.connections_total += 1
        if self.profile.outage in ("refuse", "cut"):
            client_writer.transport.abort()
            return
        try:
            up_reader, up_writer = await asyncio.open_connection(*self.target)
        except OSError:
            client_writer.transport.abort()
            return
        self._writers.update((client_writer, up_writer))
        pipes = (_Pipe(self, client_reader, up_writer), _Pipe(self, up_reader, client_writer))
        tasks = [asyncio.create_task(coro) for pipe in pipes for coro in (pipe.read_side(), pipe.write_side())]
        try:
            await asyncio.gather(*tasks)
        except (ConnectionError, OSError, asyncio.CancelledError):
            pass  # a reset link or the emulator stopping: both ends are aborted below
        finally:
            for task in tasks:
                task.cancel()
            for writer in (client_writer, up_writer):
                self._writers.discard(writer)
                writer.transport.abort()
