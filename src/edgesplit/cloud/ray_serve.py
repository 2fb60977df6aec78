"""The cloud tier as a Ray Serve deployment (``engine = "ray"``): several replicas behind one address.

Each replica is the cloud's own FastAPI app (``create_app(build_node(settings))``, its lifespan
run by Serve), with its own model and ``ray_replica_threads`` llama.cpp threads, reserving as
many Ray CPUs. Serve's proxy listens on ``host:port`` (loopback unless configured) and routes
with :class:`~edgesplit.cloud.ray_router.SessionRouter` (Ray's ``ConsistentHashRouter`` over the
``x-session-id`` header, transport/sessions.py, for session calls):

- full generation carries no session header and goes to the replica with the shortest queue;
- every call of one split or verify session carries the key its edge chose at open, so it
  reaches the replica holding that session's KV cache (``num_fallback_replicas = 0``: strict
  affinity, never a replica that does not have it);
- when that replica dies the proxy answers 5xx (or another replica answers 404) and the edge
  opens the session again with the prefix (``session_lost``), on a replica that is alive.

Replicas share ``data_dir``: the result store that makes deliveries exactly-once is one SQLite
file for all of them. ``ray_address`` joins an existing cluster; without it Ray starts here,
quietly (no dashboard, no usage stats). The router API is alpha in Ray: the version is pinned
(``edgesplit[ray]``) and tests/test_ray_serve.py checks the behaviour relied on here.
"""

from __future__ import annotations

import logging
import os
import signal
import threading
from typing import Any

from edgesplit.config import Settings

__all__ = ["APP_NAME", "REPLICA_HEADER", "CloudReplica", "ReplicaHeader", "application", "serve_on_ray", "start_ray"]

log = logging.getLogger("edgesplit.cloud")

APP_NAME = "edgesplit"
REPLICA_HEADER = "x-edgesplit-replica"  # the Ray actor name of the replica that answered
# passed on to every replica (a cluster started elsewhere does not have this process's environment)
_REPLICA_ENV = ("HF_HUB_OFFLINE", "EDGESPLIT_CACHE_DIR", "EDGESPLIT_LLAMA_CPU_VARIANT", "LLAMA_CPP_LIB_PATH")


class CloudReplica:
    """One replica: the settings it was given, the app built from them when Serve starts it."""

    def __init__(self, fields: dict[str, Any]) -> None:
        self.settings = Settings(**fields)

    def __serve_build_asgi_app__(self) -> Any:
        from ray import serve

        from edgesplit.cloud.node import CloudNode
        from edgesplit.http.app import create_app

        app = create_app(CloudNode.from_settings(self.settings))  # engine ray runs the cloud tier only
        app.add_middleware(ReplicaHeader, replica=serve.get_replica_context().replica_id.to_full_id_str())
        return app


class ReplicaHeader:
    """ASGI middleware: every answer names the replica that gave it (``x-edgesplit-replica``)."""

    def __init__(self, app: Any, replica: str) -> None:
        self.app = app
        self.header = (REPLICA_HEADER.encode(), replica.encode())

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def named(message: Any) -> None:
            if message["type"] == "http.response.start":
                message = {**message, "headers": [*message.get("headers", []), self.header]}
            await send(message)

        await self.app(scope, receive, named)


def replica_fields(settings: Settings) -> dict[str, Any]:
    """The settings a replica is built from: these, with its own thread count."""
    return settings.model_dump() | {"n_threads": settings.ray_replica_threads, "engine": "uvicorn"}


def _scaling(settings: Settings) -> dict[str, Any]:
    if settings.ray_max_replicas is None:
        return {"num_replicas": settings.ray_replicas}
    return {
        "autoscaling_config": {
            "min_replicas": settings.ray_min_replicas,
            "max_replicas": settings.ray_max_replicas,
            "initial_replicas": max(settings.ray_min_replicas or 0, 1),
            "target_ongoing_requests": settings.ray_target_ongoing_requests,
        }
    }


def application(settings: Settings) -> Any:
    """The bound Serve application for ``settings`` (a cloud's)."""
    from ray import serve
    from ray.serve.config import RequestRouterConfig

    from edgesplit.cloud.ray_router import SessionRouter

    env = {key: os.environ[key] for key in _REPLICA_ENV if key in os.environ}
    deployment = serve.deployment(
        name="cloud",
        ray_actor_options={"num_cpus": settings.ray_replica_threads, "runtime_env": {"env_vars": env}},
        max_ongoing_requests=max(settings.queue_max_waiting, 1) + 1,
        graceful_shutdown_timeout_s=settings.shutdown_timeout_s,  # a replica's in-flight work, then it stops
        request_router_config=RequestRouterConfig(
            request_router_class=SessionRouter,  # type: ignore[arg-type]  # its stub says dict
            request_router_kwargs={"num_fallback_replicas": 0},
        ),
        **_scaling(settings),
    )(serve.ingress()(CloudReplica))
    return deployment.bind(replica_fields(settings))


def start_ray(settings: Settings, num_cpus: int | None = None) -> None:
    """Join ``ray_address``, or start a quiet local Ray (no dashboard, no usage stats)."""
    import ray

    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    if settings.ray_address:
        ray.init(address=settings.ray_address, log_to_driver=False)
        return
    ray.init(num_cpus=num_cpus, include_dashboard=False, object_store_memory=200 * 1024**2, log_to_driver=False)


def run_application(settings: Settings) -> None:
    """Start Serve's proxy on ``host:port`` and deploy the cloud; returns when every replica is up."""
    from ray import serve

    serve.start(http_options={"host": settings.host, "port": settings.port})
    serve.run(application(settings), name=APP_NAME, route_prefix="/")


def serve_on_ray(settings: Settings) -> None:
    """``edgesplit serve --role cloud --engine ray``: serve until SIGINT or SIGTERM, then shut down."""
    import ray
    from ray import serve

    start_ray(settings)
    try:
        run_application(settings)
        log.warning("cloud on Ray Serve at http://%s:%d", settings.host, settings.port)
        stop = threading.Event()
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, lambda *_: stop.set())
        stop.wait()
    finally:
        serve.shutdown()  # type: ignore[no-untyped-call]
        ray.shutdown()
