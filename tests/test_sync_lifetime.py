"""Sync over a year in the field: expiry and re-signing, root rotation, offline keys, loud freezes.

Real clouds and edges on loopback; TUF's own clock is moved with ``edgesplit.sync.clock.simulated``
(ours and the TUF client's together). Hostile mirrors are ``doubles.HostileMirror``.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from conftest import ADMIN, SYNC_TOKEN, EdgeFactory, repository, start_edge
from doubles import HostileMirror
from edgesplit.cloud.repository import SyncRepository
from edgesplit.config import load_settings
from edgesplit.server import AppServer, NodeServer, build_node
from edgesplit.sync.clock import simulated
from edgesplit.sync.keys import init_keys, rotate_keys
from test_sync import pull, redacts, router_bundle, serving_first_bundle, status


@pytest.fixture
def own_keys(tmp_path: Path) -> Path:
    """Keys of this test's own (they get rotated)."""
    init_keys(tmp_path / "keys")
    return tmp_path / "keys"


def start_cloud(tmp_path: Path, keys_dir: Path, **overrides: Any) -> NodeServer:
    settings = load_settings(
        role="cloud", port=0, model="smollm2-135m-instruct", api_token=SYNC_TOKEN, data_dir=tmp_path / "cloud",
        sync_keys_dir=keys_dir, sync_refresh_check_s=0.1, **overrides,
    )  # fmt: skip
    return NodeServer(build_node(settings)).start()


@pytest.fixture
def cloud(tmp_path: Path, own_keys: Path) -> Iterator[NodeServer]:
    server = start_cloud(tmp_path, own_keys)
    yield server
    server.stop()


def wait_for(check: Any, timeout_s: float = 10.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not check():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.05)


def trusted_root_version(edge: NodeServer) -> int:
    """The root version the edge's TUF client trusts now."""
    path = edge.node.sync.store.metadata_dir / "root.json"  # type: ignore[attr-defined]
    return int(json.loads(path.read_text())["signed"]["version"])


def snapshot_version(cloud: NodeServer) -> int:
    return int(repository(cloud).latest("snapshot").signed.version)


# 1. metadata that stays valid


def test_an_edge_still_updates_31_days_after_the_last_publish(
    cloud: NodeServer, own_keys: Path, make_edge: EdgeFactory, tmp_path: Path
) -> None:
    edge = serving_first_bundle(make_edge, cloud, own_keys, tmp_path)
    before = snapshot_version(cloud)
    with simulated(timedelta(days=31)):  # the snapshot signed at publish expired a day ago
        wait_for(lambda: snapshot_version(cloud) > before)  # the serving cloud re-signed it by itself
        reply = pull(edge)
        assert reply.status_code == 200, reply.text
        assert reply.json()["last_error"] is None
        repository(cloud).publish(router_bundle(tmp_path, "Project Heron"))
        assert pull(edge).json()["current"] == 2
    assert redacts(edge, "Project Heron")


def test_past_366_days_a_renewed_root_keeps_the_edge_updating(
    cloud: NodeServer, own_keys: Path, make_edge: EdgeFactory, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    edge = serving_first_bundle(make_edge, cloud, own_keys, tmp_path)
    with simulated(timedelta(days=350)):  # 15 days left: inside the 21-day warning
        warnings = status(edge)["warnings"]
        assert any(w.startswith("root metadata expires in") for w in warnings)  # warned days ahead
        metrics = httpx.get(f"{edge.url}/metrics").text
        assert 'edgesplit_sync_metadata_expiry_seconds{role="root"}' in metrics
        assert any("root" in w for w in cloud.node.keeper.describe()["warnings"])  # type: ignore[attr-defined]
        wait_for(lambda: "sync: root metadata expires in" in caplog.text)  # the cloud's log says it too
        rotate_keys(own_keys, roles=())  # the operator renews the root: v2, a year from now
        repository(cloud).publish(router_bundle(tmp_path, "Project Heron"))  # weekly publishes re-sign targets
    with simulated(timedelta(days=367)):
        repository(cloud).publish(router_bundle(tmp_path, "Project Osprey"))
        reply = pull(edge)
        assert reply.status_code == 200, reply.text
        assert reply.json()["current"] == 3
    assert trusted_root_version(edge) == 2


def test_without_a_renewal_an_expired_root_is_refused(
    cloud: NodeServer, own_keys: Path, make_edge: EdgeFactory, tmp_path: Path
) -> None:
    edge = serving_first_bundle(make_edge, cloud, own_keys, tmp_path)
    with simulated(timedelta(days=367)):
        repository(cloud).publish(router_bundle(tmp_path, "Project Heron"))
        reply = pull(edge)
        assert reply.status_code == 409 and reply.json()["error"]["param"] == "expired"
        assert "root metadata has expired" in " ".join(status(edge)["warnings"])


# 2. root and key rotation


def test_an_edge_offline_for_two_rotations_walks_the_root_chain(
    cloud: NodeServer, own_keys: Path, make_edge: EdgeFactory, tmp_path: Path
) -> None:
    edge = serving_first_bundle(make_edge, cloud, own_keys, tmp_path)
    old_timestamp_key = (own_keys / "timestamp.pem").read_bytes()
    rotate_keys(own_keys, roles=("root", "timestamp"))  # the edge is offline for this one
    assert (own_keys / "timestamp.pem").read_bytes() != old_timestamp_key
    wait_for(lambda: repository(cloud).latest("root").signed.version == 2)  # the cloud imports it, re-signs
    rotate_keys(own_keys, roles=("root", "targets", "snapshot"))  # and this one
    repository(cloud).publish(router_bundle(tmp_path, "Project Heron"))
    reply = pull(edge)
    assert reply.status_code == 200, reply.text
    assert reply.json()["current"] == 2
    assert trusted_root_version(edge) == 3
    assert redacts(edge, "Project Heron")
    first_root = own_keys / "1.root.json"  # a new edge given the first root walks the chain too
    fresh = start_edge(make_edge, cloud, own_keys, sync_root=first_root)
    assert pull(fresh).json()["current"] == 2


def test_a_root_signed_only_by_a_new_key_is_refused(
    cloud: NodeServer, own_keys: Path, make_edge: EdgeFactory, tmp_path: Path
) -> None:
    from tuf.api.metadata import Metadata

    from edgesplit.sync.keys import load_signer

    edge = serving_first_bundle(make_edge, cloud, own_keys, tmp_path)
    stranger = tmp_path / "stranger"
    init_keys(stranger)
    forged = Metadata.from_file(str(own_keys / "root.json"))
    forged.signed.version = 2
    forged.sign(load_signer(stranger, "root"))  # not signed by the old root key
    (repository(cloud).metadata_dir / "2.root.json").write_bytes(forged.to_bytes())
    reply = pull(edge)
    assert reply.status_code == 409 and reply.json()["error"]["param"] == "bad_signature"


# 3. offline keys


def test_keys_have_tight_modes_even_over_looser_files(tmp_path: Path) -> None:
    keys = tmp_path / "keys"
    keys.mkdir(mode=0o755)
    (keys / "root.pem").write_text("old")
    (keys / "root.pem").chmod(0o644)
    init_keys(keys, overwrite=True, online_dir=tmp_path / "online")
    assert (keys / "root.pem").stat().st_mode & 0o777 == 0o600
    assert keys.stat().st_mode & 0o777 == 0o700
    assert (keys / "root.json").stat().st_mode & 0o777 == 0o644
    assert not (keys / "timestamp.pem").exists()  # the online keys went to their own folder
    assert (tmp_path / "online" / "timestamp.pem").stat().st_mode & 0o777 == 0o600
    rotated = rotate_keys(keys, roles=("root",))
    assert rotated.stat().st_mode & 0o777 == 0o644 and (keys / "2.root.json").is_file()


def test_an_encrypted_key_opens_only_with_its_passphrase(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from edgesplit.errors import ConfigError
    from edgesplit.sync.keys import PASSPHRASE_ENV, load_signer

    init_keys(tmp_path / "k", passphrase="correct horse")
    assert b"ENCRYPTED" in (tmp_path / "k" / "root.pem").read_bytes()
    with pytest.raises(ConfigError, match="encrypted"):
        load_signer(tmp_path / "k", "root")
    with pytest.raises(ConfigError, match="passphrase"):
        load_signer(tmp_path / "k", "targets", "wrong")
    monkeypatch.setenv(PASSPHRASE_ENV, "correct horse")
    assert load_signer(tmp_path / "k", "root") is not None
    assert load_signer(tmp_path / "k", "timestamp") is not None  # online keys stay unencrypted


def test_a_cloud_with_only_online_keys_serves_a_bundle_signed_elsewhere(tmp_path: Path, make_edge: EdgeFactory) -> None:
    offline, online = tmp_path / "operator-keys", tmp_path / "cloud-keys"
    init_keys(offline, online_dir=online)
    cloud = start_cloud(tmp_path, online)
    try:
        (online / "root.json").write_bytes((offline / "root.json").read_bytes())  # public: the cloud may hold it
        operator = SyncRepository(repository(cloud).directory, offline)  # the repository, as the operator copies it
        operator.publish(router_bundle(tmp_path, "Project Falcon"))
        assert not (operator.metadata_dir / "timestamp.json").exists()  # no online key on the operator's side
        wait_for(lambda: (operator.metadata_dir / "timestamp.json").exists())  # the serving cloud signs it
        edge = start_edge(make_edge, cloud, offline)
        reply = pull(edge)
        assert reply.status_code == 200, reply.text
        assert reply.json()["current"] == 1
    finally:
        cloud.stop()


# 4. freezes are loud


@pytest.mark.parametrize(("rule", "name", "reason"), [
    ("withhold", "timestamp.json", "unavailable"),
    ("withhold", ".snapshot.json", "unavailable"),
    ("fail", "timestamp.json", "unavailable"),
    ("stall", "timestamp.json", "slow"),
])  # fmt: skip
def test_withheld_or_failing_metadata_is_an_error_not_nothing_new(
    cloud: NodeServer, own_keys: Path, make_edge: EdgeFactory, tmp_path: Path, rule: str, name: str, reason: str
) -> None:
    mirror = HostileMirror(cloud.url)
    with AppServer(mirror.app) as proxy:
        options = {"upstream": proxy.url, "upstream_timeout_s": 1, "sync_stale_alarm_s": 0.5}
        edge = serving_first_bundle(make_edge, cloud, own_keys, tmp_path, **options)
        fresh = status(edge)["last_fresh"]
        repository(cloud).publish(router_bundle(tmp_path, "Project Heron"))
        getattr(mirror, rule).add(name)
        for _ in range(2):
            reply = pull(edge)
            assert reply.status_code == 409 and reply.json()["error"]["param"] == reason
        now = status(edge)
        assert now["last_error"] and now["last_reason"] == reason  # kept, not cleared by the next try
        assert now["rejected"][reason] == 2 and now["last_fresh"] == fresh
        time.sleep(0.6)
        assert status(edge)["stale"] is True
        metrics = httpx.get(f"{edge.url}/metrics").text
        assert f'edgesplit_sync_rejected_total{{reason="{reason}"}} 2.0' in metrics
        assert "edgesplit_sync_stale_alarm 1.0" in metrics
        getattr(mirror, rule).discard(name)
        assert pull(edge).json()["current"] == 2
        assert status(edge)["last_error"] is None and status(edge)["stale"] is False


# 5. rollback that holds


def test_rollback_keeps_refused_versions_refused_and_moves_the_gauge(
    cloud: NodeServer, own_keys: Path, make_edge: EdgeFactory, tmp_path: Path
) -> None:
    from edgesplit.cloud.repository import BundleSpec, TierSpec

    edge = start_edge(make_edge, cloud, own_keys)
    for term in ("Project Falcon", "Project Heron"):
        repository(cloud).publish(router_bundle(tmp_path, term))
        pull(edge)
    broken = tmp_path / "broken.gguf"
    broken.write_bytes(b"GGUF" + bytes(4096))
    repository(cloud).publish(BundleSpec(tiers={"device": TierSpec(model=broken, model_name="smollm2-135m-instruct")}))
    assert pull(edge).json()["error"]["param"] == "smoke"  # v3 refused: skip through 3
    reply = httpx.post(f"{edge.url}/v1/sync/rollback", headers=ADMIN, timeout=60)
    assert reply.json()["current"] == 1
    assert 'edgesplit_sync_version{which="current"} 1.0' in httpx.get(f"{edge.url}/metrics").text
    assert edge.node.sync.store.state().skip_through == 3  # type: ignore[attr-defined]
    before = edge.node.sync.client.fetcher.stats.wire_bytes  # type: ignore[attr-defined]
    assert pull(edge).json()["current"] == 1  # neither v2 (rolled back from) nor v3 (refused) again
    assert edge.node.sync.client.fetcher.stats.wire_bytes - before < 8192  # type: ignore[attr-defined]


def test_a_rollback_during_a_pull_fails_at_once(
    cloud: NodeServer, own_keys: Path, make_edge: EdgeFactory, tmp_path: Path
) -> None:
    mirror = HostileMirror(cloud.url)
    with AppServer(mirror.app) as proxy:
        edge = start_edge(make_edge, cloud, own_keys, upstream=proxy.url, upstream_timeout_s=3)
        for term in ("Project Falcon", "Project Heron"):
            repository(cloud).publish(router_bundle(tmp_path, term))
            pull(edge)
        mirror.stall.add("timestamp.json")
        pulling = threading.Thread(target=lambda: pull(edge))
        pulling.start()
        wait_for(lambda: edge.node.sync._lock.locked())  # type: ignore[attr-defined]
        start = time.monotonic()
        reply = httpx.post(f"{edge.url}/v1/sync/rollback", headers=ADMIN, timeout=60)
        assert time.monotonic() - start < 1.0
        assert reply.status_code == 409 and reply.json()["error"]["code"] == "sync_busy"
        pulling.join(30)
        assert status(edge)["current"] == 2  # and it never ran later
        time.sleep(0.5)
        assert status(edge)["current"] == 2


# 6. downloads with a deadline; status that says what is downloading; counters that survive


def test_a_trickle_is_cut_at_its_deadline_and_the_status_shows_it(
    cloud: NodeServer, own_keys: Path, make_edge: EdgeFactory, tmp_path: Path
) -> None:
    mirror = HostileMirror(cloud.url)
    data_dir = tmp_path / "edge"
    with AppServer(mirror.app) as proxy:
        options = {"upstream": proxy.url, "upstream_timeout_s": 1, "sync_min_rate_bps": 2000, "data_dir": data_dir}
        edge = start_edge(make_edge, cloud, own_keys, **options)
        repository(cloud).publish(router_bundle(tmp_path, "Project Falcon"))
        mirror.rate_bps = 300.0  # the 1.7 kB router would take 6 s; its deadline is 1 + 1.7/2 s
        seen: list[dict[str, Any]] = []
        watcher = threading.Thread(target=lambda: wait_for(lambda: seen.append(status(edge)) or seen[-1]["pending"]))
        watcher.start()
        start = time.monotonic()
        reply = pull(edge)
        elapsed = time.monotonic() - start
        watcher.join(10)
        assert reply.status_code == 409 and reply.json()["error"]["param"] == "slow"
        assert elapsed < 5.0
        assert seen[-1]["pending"] == 1  # said while the download ran
        edge.stop()
        again = start_edge(make_edge, cloud, own_keys, **options)
        assert status(again)["rejected"] == {"slow": 1}  # the counter survived the restart
        assert status(again)["last_reason"] == "slow"
        assert 'edgesplit_sync_rejected_total{reason="slow"} 1.0' in httpx.get(f"{again.url}/metrics").text


def test_a_failed_reconnect_is_retried_with_backoff(tmp_path: Path) -> None:
    """Test double: httpx.MockTransport stands in for a link whose first two connects fail."""
    from edgesplit.edge.fetcher import ResumingFetcher

    body = bytes(range(256)) * 64
    calls: list[str | None] = []

    def answer(request: httpx.Request) -> httpx.Response:
        calls.append(request.headers.get("range"))
        if len(calls) == 1:

            def cut() -> Iterator[bytes]:
                yield body[:4096]
                raise httpx.ReadError("connection reset")

            return httpx.Response(200, content=cut())
        if len(calls) in (2, 3):
            raise httpx.ConnectError("refused")
        start = int(request.headers["range"].removeprefix("bytes=").rstrip("-"))
        return httpx.Response(206, content=body[start:])

    fetcher = ResumingFetcher(None, tmp_path, transport=httpx.MockTransport(answer), backoff_s=0.05)
    started = time.monotonic()
    with fetcher.deadline_for(len(body)):
        got = b"".join(fetcher.fetch("http://127.0.0.1:1/v1/sync/targets/abc.bin"))
    assert got == body
    assert calls[-1] == "bytes=4096-" and len(calls) == 4
    assert time.monotonic() - started >= 0.05 * 0.5 + 0.1 * 0.5  # two backoffs
    fetcher.close()


# 8. access


def test_sync_pull_and_rollback_need_the_admin_token(cloud: NodeServer, own_keys: Path, make_edge: EdgeFactory) -> None:
    edge = start_edge(make_edge, cloud, own_keys, api_token="client-token")
    client = {"authorization": "Bearer client-token"}
    for route in ("pull", "rollback"):
        assert httpx.post(f"{edge.url}/v1/sync/{route}").status_code == 401
        assert httpx.post(f"{edge.url}/v1/sync/{route}", headers=client).status_code == 401
    assert httpx.get(f"{edge.url}/v1/sync/status", headers=client).status_code == 200
    open_edge = make_edge(upstream=cloud.url, sync_root=own_keys / "root.json", sync_interval_s=0)  # no tokens
    refused = httpx.post(f"{open_edge.url}/v1/sync/pull")
    assert refused.status_code == 401 and "admin_token" in refused.json()["error"]["message"]
