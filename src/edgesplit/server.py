"""Run nodes: build one from settings, serve it with uvicorn, or run it in a background thread."""

from __future__ import annotations

import asyncio
import threading
import time
from typing import Any

import uvicorn

from edgesplit.cloud.node import CloudNode
from edgesplit.config import Settings
from edgesplit.edge.node import EdgeNode
from edgesplit.errors import EdgesplitError
from edgesplit.http.app import create_app
from edgesplit.http.node import Node
from edgesplit.transport.tls import TlsFiles

__all__ = ["UVICORN_IO", "AppServer", "NodeServer", "build_node", "serve"]


def build_node(settings: Settings) -> Node:
    """The node for ``settings.role``, with its model loaded (sha256-verified) and backends ready.

    A local tier is an EdgeNode too: an edge toward its upstream, with a result store for its devices."""
    if settings.role == "cloud":
        return CloudNode.from_settings(settings)
    return EdgeNode.from_settings(settings)


# uvloop and httptools (core dependencies): about 1.3 ms less per request than asyncio and h11
# (bench/gateway.py). Named, not "auto": every node and every test runs on the same pair.
UVICORN_IO: dict[str, Any] = {"loop": "uvloop", "http": "httptools"}


def serve(settings: Settings) -> None:
    """Serve a node in the foreground until interrupted."""
    if settings.engine == "ray":
        from edgesplit.cloud.ray_serve import serve_on_ray

        serve_on_ray(settings)
        return
    node = build_node(settings)
    tls = TlsFiles.from_settings(settings)
    uvicorn.run(
        create_app(node), host=settings.host, port=settings.port, log_level="info", access_log=False, **UVICORN_IO,
        timeout_graceful_shutdown=settings.shutdown_timeout_s, **(tls.uvicorn_options() if tls else {}),
    )  # fmt: skip


class AppServer:
    """An ASGI app served by uvicorn on a background thread; ``port=0`` picks a free port."""

    def __init__(
        self,
        app: Any,
        host: str = "127.0.0.1",
        port: int = 0,
        name: str = "app",
        tls: TlsFiles | None = None,
        shutdown_timeout_s: int = 5,
    ) -> None:
        # a connection still open after 5 s of shutdown (a test double that never answers) is dropped
        config = uvicorn.Config(
            app, host=host, port=port, log_level="warning", lifespan="on", **UVICORN_IO,
            timeout_graceful_shutdown=shutdown_timeout_s, **(tls.uvicorn_options() if tls else {}),
        )  # fmt: skip
        self.scheme = "https" if tls else "http"
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._run, name=f"edgesplit-{name}", daemon=True)
        self._error: BaseException | None = None

    def _run(self) -> None:
        import uvloop

        try:
            with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:  # what uvicorn.run picks
                runner.run(self._server.serve())
        except BaseException as exc:
            self._error = exc

    @property
    def url(self) -> str:
        sockets = self._server.servers[0].sockets
        host, port = sockets[0].getsockname()[:2]
        return f"{self.scheme}://{host}:{port}"

    def start(self, timeout_s: float = 30.0) -> AppServer:
        self._thread.start()
        deadline = time.monotonic() + timeout_s
        while not self._server.started:
            if self._error is not None or not self._thread.is_alive():
                raise EdgesplitError(f"node failed to start: {self._error}")
            if time.monotonic() > deadline:
                raise EdgesplitError(f"node did not start within {timeout_s:g} s")
            time.sleep(0.02)
        return self

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=30)

    def __enter__(self) -> AppServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


class NodeServer(AppServer):
    """A node served on a background thread (for the demo and tests); :attr:`url` tells the port."""

    def __init__(self, node: Node) -> None:
        self.node = node
        settings = node.settings
        tls = TlsFiles.from_settings(settings)
        # the same deadline as `edgesplit serve`, at most 5 s: a test double that never answers is dropped
        deadline = min(settings.shutdown_timeout_s, 5)
        super().__init__(create_app(node), settings.host, settings.port, settings.role, tls, deadline)

    def start(self, timeout_s: float = 30.0) -> NodeServer:
        super().start(timeout_s)
        return self

    def __enter__(self) -> NodeServer:
        return self.start()
