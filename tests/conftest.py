"""Shared fixtures: real nodes (real models, real uvicorn on loopback ports) and upstream doubles."""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
import openai
import pytest

from doubles import RecordingEcho
from edgesplit.config import Settings, load_settings
from edgesplit.server import AppServer, NodeServer, build_node

if TYPE_CHECKING:
    from edgesplit.cloud.repository import SyncRepository

os.environ["HF_HUB_OFFLINE"] = "1"

EDGE_MODEL = "smollm2-135m-instruct"
CLOUD_TOKEN = "test-cloud-token"
SYNC_TOKEN = "sync-test-token"
ADMIN_TOKEN = "admin-test-token"  # the sync edges' admin_token (pull, rollback)
ADMIN = {"authorization": f"Bearer {ADMIN_TOKEN}"}


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for key in list(os.environ):
        if key.startswith("EDGESPLIT_") and key != "EDGESPLIT_CACHE_DIR":
            monkeypatch.delenv(key)


@pytest.fixture(autouse=True)
def _wide_console(monkeypatch: pytest.MonkeyPatch) -> None:
    """CLI tables (rich) as wide as a terminal's: an xdist worker has none and would wrap them at 80."""
    from edgesplit.cli.common import console

    monkeypatch.setattr(console, "width", 240)


@pytest.fixture(scope="session")
def cloud(tmp_path_factory: pytest.TempPathFactory) -> Iterator[NodeServer]:
    """A cloud node serving the small model (fast), requiring CLOUD_TOKEN; it also serves split and verify sessions."""
    data_dir = tmp_path_factory.mktemp("cloud")
    settings = load_settings(
        role="cloud",
        port=0,
        model=EDGE_MODEL,
        api_token=CLOUD_TOKEN,
        data_dir=data_dir,
        split_model=EDGE_MODEL,
        speculative_model=EDGE_MODEL,
    )
    with NodeServer(build_node(settings)) as server:
        yield server


EdgeFactory = Callable[..., NodeServer]


@pytest.fixture
def make_edge(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EdgeFactory]:
    """Start edge nodes with settings overrides (each its own data dir); all are stopped after the test."""
    started: list[NodeServer] = []

    def start(**overrides: Any) -> NodeServer:
        overrides.setdefault("data_dir", tmp_path_factory.mktemp("edge"))
        overrides.setdefault("role", "edge")
        overrides.setdefault("router_packaged", False)  # tests of auto routing pick their router
        overrides.setdefault("answer_check_packaged", False)  # and their answer check
        settings: Settings = load_settings(port=0, **overrides)
        server = NodeServer(build_node(settings)).start()
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()


@contextlib.contextmanager
def asgi_node(**overrides: Any) -> Iterator[httpx.Client]:
    """A node's app in this process behind an httpx client over an ASGI transport (Starlette's
    TestClient): the full app and its lifespan, no socket and no server thread. For checks of
    what the HTTP layer answers (bad input, schemas); end-to-end tests keep real servers."""
    from starlette.testclient import TestClient

    from edgesplit.http.app import create_app

    overrides.setdefault("role", "edge")
    overrides.setdefault("router_packaged", False)
    overrides.setdefault("answer_check_packaged", False)
    app = create_app(build_node(load_settings(port=0, **overrides)))
    with TestClient(app, base_url="http://127.0.0.1", raise_server_exceptions=False) as client:
        yield client


@pytest.fixture
def echo_upstream() -> Iterator[tuple[RecordingEcho, AppServer]]:
    """A recording echo upstream (tests/doubles.py) on a loopback port."""
    echo = RecordingEcho()
    with AppServer(echo.app) as server:
        yield echo, server


@pytest.fixture
def edge(make_edge: EdgeFactory, cloud: NodeServer) -> NodeServer:
    return make_edge(upstream=cloud.url, upstream_token=CLOUD_TOKEN)


@pytest.fixture(scope="module")
def reference_llm() -> Iterator[Any]:
    """A plain llama-cpp-python ``Llama`` of the small model: plain greedy decoding, the reference."""
    from llama_cpp import Llama

    from edgesplit.models import locate_model

    llm = Llama(model_path=str(locate_model(EDGE_MODEL)), n_ctx=2048, n_threads=2, verbose=False)
    yield llm
    llm.close()


@pytest.fixture(scope="module")
def keys(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Sync signing keys and the root.json edges trust (``edgesplit keys init``)."""
    from edgesplit.sync.keys import init_keys

    directory = tmp_path_factory.mktemp("keys")
    init_keys(directory)
    return directory


@pytest.fixture
def sync_cloud(tmp_path_factory: pytest.TempPathFactory, keys: Path) -> Iterator[NodeServer]:
    """A cloud with its own, empty sync repository and the keys to publish into it."""
    settings = load_settings(
        role="cloud", port=0, model=EDGE_MODEL, api_token=SYNC_TOKEN, data_dir=tmp_path_factory.mktemp("cloud"),
        sync_keys_dir=keys,
    )  # fmt: skip
    with NodeServer(build_node(settings)) as server:
        yield server


def repository(cloud: NodeServer) -> SyncRepository:
    """The cloud node's sync repository (publish into it directly)."""
    return cloud.node.repository  # type: ignore[attr-defined, no-any-return]


def start_edge(make_edge: EdgeFactory, cloud: NodeServer, keys: Path, **overrides: Any) -> NodeServer:
    """An edge that syncs from ``cloud`` on demand only (``POST /v1/sync/pull`` with ``ADMIN``);
    ``overrides`` win (``upstream=`` a mirror in front of the cloud, ``sync_root=`` another root)."""
    synced = {
        "upstream": cloud.url, "upstream_token": SYNC_TOKEN, "sync_root": keys / "root.json", "sync_interval_s": 0,
        "admin_token": ADMIN_TOKEN,
    }  # fmt: skip
    return make_edge(**{**synced, **overrides})


def free_port() -> int:
    """A loopback port nothing listens on (for an unreachable upstream or a child process)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_healthy(url: str, proc: subprocess.Popen[bytes], timeout_s: float = 60) -> None:
    """Wait for a node started as a child process to answer ``/healthz``."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        assert proc.poll() is None, "the node exited during start-up"
        try:
            if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            time.sleep(0.1)
    raise AssertionError(f"{url} did not become healthy")


def route_info(reply: Any) -> dict[str, Any]:
    """The ``edgesplit`` object of an openai SDK reply or stream chunk: where it was served and why."""
    return reply.model_extra["edgesplit"]  # type: ignore[no-any-return]


def client_for(server: NodeServer, **kwargs: Any) -> openai.OpenAI:
    kwargs.setdefault("api_key", "unused")
    return openai.OpenAI(base_url=f"{server.url}/v1", max_retries=0, **kwargs)


def chat(server: NodeServer, prompt: str, **kwargs: Any) -> Any:
    kwargs.setdefault("model", "edgesplit/auto")
    kwargs.setdefault("max_tokens", 24)
    kwargs.setdefault("temperature", 0)
    return client_for(server).chat.completions.create(messages=[{"role": "user", "content": prompt}], **kwargs)


def ask_cloud(server: NodeServer, text: str, stream: bool, **kwargs: Any) -> tuple[str, dict[str, Any]]:
    """A forced-cloud chat, streamed or not: (the answer text, the ``edgesplit`` object of the final chunk)."""
    kwargs.setdefault("model", "edgesplit/cloud")
    messages = [{"role": "user", "content": text}]
    client = client_for(server)
    if stream:
        chunks = list(client.chat.completions.create(messages=messages, stream=True, **kwargs))
        answer = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
        return answer, route_info(next(c for c in chunks if c.choices and c.choices[0].finish_reason))
    reply = client.chat.completions.create(messages=messages, **kwargs)
    return reply.choices[0].message.content or "", route_info(reply)
