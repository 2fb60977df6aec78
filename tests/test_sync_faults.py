"""Sync under faults: a link cut mid-file and resumed, a disk too small, a process killed mid-swap.

Each leaves the edge serving a complete, verified version. The cut runs through the real link
emulator (transport/netem.py) between a real edge sync client and a real cloud.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import httpx
import pytest

from conftest import (
    ADMIN,
    ADMIN_TOKEN,
    EDGE_MODEL,
    SYNC_TOKEN,
    EdgeFactory,
    free_port,
    repository,
    start_edge,
    wait_healthy,
)
from edgesplit.cloud.repository import BundleSpec, TierSpec
from edgesplit.edge.bundles import BundleStore
from edgesplit.edge.sync import SyncClient
from edgesplit.errors import BundleRejected
from edgesplit.models import locate_model
from edgesplit.server import NodeServer
from edgesplit.transport.netem import PROFILES, LinkEmulator
from test_sync import router_bundle

MODEL_BUNDLE = BundleSpec(tiers={"device": TierSpec(model=locate_model(EDGE_MODEL), model_name=EDGE_MODEL)})


def _client(store: BundleStore, url: str, keys: Path) -> SyncClient:
    return SyncClient(store, url, SYNC_TOKEN, (keys / "root.json").read_bytes(), "device")


def _cut_at_half(link: LinkEmulator, client: SyncClient, length: int, seen: list[Any]) -> threading.Thread:
    """Cut the link once half the file is on disk; note what the client said it was downloading."""

    def watch() -> None:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if sum(p.stat().st_size for p in client.store.partial_dir.glob("*.part")) >= length // 2:
                seen.append(client.downloading())
                link.outage("cut")
                return
            time.sleep(0.005)

    thread = threading.Thread(target=watch, daemon=True)
    thread.start()
    return thread


def test_a_cut_download_resumes_from_where_it_stopped(sync_cloud: NodeServer, keys: Path, tmp_path: Path) -> None:
    repository(sync_cloud).publish(MODEL_BUNDLE)
    length = locate_model(EDGE_MODEL).stat().st_size
    host, port = sync_cloud.url.removeprefix("http://").split(":")
    flaky = replace(PROFILES["flaky"], bandwidth_mbps=400, latency_ms=2, jitter_ms=1)  # quick enough for a test
    with LinkEmulator(host, int(port), flaky) as link:
        store = BundleStore(tmp_path / "sync")
        client = _client(store, link.url, keys)
        seen: list[Any] = []
        watcher = _cut_at_half(link, client, length, seen)
        with pytest.raises(BundleRejected) as cut:
            client.pull(None)
        watcher.join()
        assert cut.value.reason == "download"
        assert seen[0]["target"].endswith(".gguf") and seen[0]["length"] == length  # what a progress bar shows
        assert length // 2 <= seen[0]["bytes"] <= length
        assert store.state().current is None
        link.restore()
        manifest = client.pull(None)
    assert manifest is not None and manifest.version == 1
    stats = client.fetcher.stats
    assert stats.reused_bytes >= length // 2  # the first half was not sent again
    resent = stats.wire_bytes - length
    assert 0 <= resent < 64 * 1024 + 16 * 1024  # at most the chunks in flight when the link was cut, plus metadata
    assert store.is_complete(1)
    client.close()


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 48 MiB tmpfs: too small for the 98 MB model. Needs mount rights (root in a container)."""
    mount = tmp_path / "small"
    mount.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=48m", "tmpfs", str(mount)], capture_output=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs here: {done.stderr.decode().strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def test_a_disk_too_small_for_staging_keeps_the_current_version(
    sync_cloud: NodeServer, keys: Path, make_edge: EdgeFactory, small_disk: Path, tmp_path: Path
) -> None:
    edge = start_edge(make_edge, sync_cloud, keys, data_dir=small_disk)
    repository(sync_cloud).publish(router_bundle(tmp_path, "Project Falcon"))
    assert httpx.post(f"{edge.url}/v1/sync/pull", headers=ADMIN, timeout=60).json()["current"] == 1
    repository(sync_cloud).publish(MODEL_BUNDLE)
    reply = httpx.post(f"{edge.url}/v1/sync/pull", headers=ADMIN, timeout=60)
    assert reply.status_code == 409 and reply.json()["error"]["param"] == "disk_full"
    assert httpx.get(f"{edge.url}/v1/sync/status").json()["current"] == 1
    assert not list((small_disk / "sync" / "partial").glob("*.part"))  # nothing was started


def _serve_edge(cloud: NodeServer, keys: Path, data_dir: Path) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    env = {
        **os.environ,
        "EDGESPLIT_UPSTREAM": cloud.url,
        "EDGESPLIT_UPSTREAM_TOKEN": SYNC_TOKEN,
        "EDGESPLIT_SYNC_ROOT": str(keys / "root.json"),
        "EDGESPLIT_SYNC_INTERVAL_S": "0",
        "EDGESPLIT_ADMIN_TOKEN": ADMIN_TOKEN,
        "EDGESPLIT_DATA_DIR": str(data_dir),
        "EDGESPLIT_ROUTER_PACKAGED": "false",
        "EDGESPLIT_LINK_PROBE_INTERVAL_S": "0",
    }
    cmd = [sys.executable, "-m", "edgesplit", "serve", "--role", "edge", "--model", EDGE_MODEL, "--port", str(port)]
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_healthy(url, proc)
    except AssertionError:
        proc.kill()
        raise
    return proc, url


@pytest.mark.parametrize("kill_after_s", [0.4, 1.2])
def test_an_edge_killed_during_a_pull_restarts_on_a_complete_version(
    sync_cloud: NodeServer, keys: Path, tmp_path: Path, kill_after_s: float
) -> None:
    data_dir = tmp_path / "edge"
    repository(sync_cloud).publish(router_bundle(tmp_path, "Project Falcon"))
    proc, url = _serve_edge(sync_cloud, keys, data_dir)
    try:
        assert httpx.post(f"{url}/v1/sync/pull", headers=ADMIN, timeout=60).json()["current"] == 1
        repository(sync_cloud).publish(MODEL_BUNDLE)
        threading.Thread(target=lambda: _quietly_pull(url), daemon=True).start()
        time.sleep(kill_after_s)
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
        proc, url = _serve_edge(sync_cloud, keys, data_dir)
        current = httpx.get(f"{url}/v1/sync/status").json()["current"]
        assert current in (1, 2)
        assert BundleStore(data_dir / "sync").is_complete(current)
        body = {"model": "edgesplit/edge", "messages": [{"role": "user", "content": "Hi"}], "max_tokens": 4}
        assert httpx.post(f"{url}/v1/chat/completions", json=body, timeout=60).status_code == 200
        assert (
            httpx.post(f"{url}/v1/sync/pull", headers=ADMIN, timeout=60).json()["current"] == 2
        )  # and it completes later
    finally:
        proc.kill()
        proc.wait(timeout=10)


def _quietly_pull(url: str) -> None:
    with contextlib.suppress(httpx.HTTPError):  # the process is killed under it
        httpx.post(f"{url}/v1/sync/pull", headers=ADMIN, timeout=60)
