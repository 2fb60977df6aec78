"""Sync of signed bundles, cloud → edge: publish, pull, hot swap, rollback, and every refusal.

Real parts throughout: a real cloud node serving its TUF repository over loopback HTTP, real
edges with real models, the real TUF Updater. Each refusal leaves the edge serving a complete,
verified version, and a chat still works.
"""

from __future__ import annotations

import shutil
import threading
from pathlib import Path
from typing import Any

import httpx
import pytest

from conftest import ADMIN, ADMIN_TOKEN, EDGE_MODEL, SYNC_TOKEN, EdgeFactory, chat, repository, start_edge
from doubles import HostileMirror
from edgesplit.cloud.repository import BundleSpec, SyncRepository, TierSpec
from edgesplit.errors import ConfigError
from edgesplit.models import locate_model
from edgesplit.routing.learned import packaged_router
from edgesplit.server import AppServer, NodeServer
from edgesplit.sync.keys import init_keys


def pull(edge: NodeServer) -> httpx.Response:
    return httpx.post(f"{edge.url}/v1/sync/pull", headers=ADMIN, timeout=120)


def status(edge: NodeServer) -> dict[str, Any]:
    return httpx.get(f"{edge.url}/v1/sync/status").json()  # type: ignore[no-any-return]


def policy_file(tmp_path: Path, term: str) -> Path:
    path = tmp_path / f"policy-{term.replace(' ', '_')}.toml"
    path.write_text(f'privacy_deny_list = ["{term}"]\n')
    return path


def router_bundle(tmp_path: Path, term: str = "Project Falcon") -> BundleSpec:
    router = packaged_router(EDGE_MODEL)
    assert router is not None
    tiers = {"device": TierSpec(model_name=EDGE_MODEL, router=router)}
    return BundleSpec(tiers=tiers, policy=policy_file(tmp_path, term))


def redacts(edge: NodeServer, term: str) -> bool:
    redactor = edge.node.redactor  # type: ignore[attr-defined]
    return any(e.value == term for e in redactor.detector.detect(f"the {term} budget"))


def serving_first_bundle(
    make_edge: EdgeFactory, cloud: NodeServer, keys: Path, tmp_path: Path, **overrides: Any
) -> NodeServer:
    """An edge that pulled version 1: the packaged router and a policy redacting "Project Falcon"."""
    edge = start_edge(make_edge, cloud, keys, **overrides)
    repository(cloud).publish(router_bundle(tmp_path, "Project Falcon"))
    assert pull(edge).json()["current"] == 1
    return edge


def assert_serves(edge: NodeServer, version: int | None) -> None:
    assert status(edge)["current"] == version
    reply = chat(edge, "Say hi.", model="edgesplit/edge", max_tokens=4)
    assert reply.choices[0].message.content


def test_publish_pull_swaps_router_and_policy_in(
    sync_cloud: NodeServer, keys: Path, make_edge: EdgeFactory, tmp_path: Path
) -> None:
    edge = start_edge(make_edge, sync_cloud, keys)
    nothing = pull(edge)  # nothing published yet: no verified metadata is an error, not "up to date"
    assert nothing.status_code == 409 and nothing.json()["error"]["param"] == "unavailable"
    assert status(edge)["last_error"] and status(edge)["current"] is None
    manifest = repository(sync_cloud).publish(router_bundle(tmp_path))
    reply = pull(edge)
    assert reply.status_code == 200, reply.text
    assert reply.json()["current"] == manifest.version == 1
    assert reply.json()["last_error"] is None and reply.json()["last_fresh"] is not None
    assert edge.node.router.current is not None  # type: ignore[attr-defined]
    assert redacts(edge, "Project Falcon")
    assert "edgesplit_sync_version" in httpx.get(f"{edge.url}/metrics").text
    assert_serves(edge, 1)


def test_a_router_for_another_model_is_never_published(sync_cloud: NodeServer, tmp_path: Path) -> None:
    router = packaged_router(EDGE_MODEL)
    assert router is not None
    spec = BundleSpec(tiers={"device": TierSpec(model_name="qwen2.5-coder-0.5b-instruct", router=router)})
    with pytest.raises(Exception, match="does not fit"):
        repository(sync_cloud).publish(spec)
    assert repository(sync_cloud).current() is None


def test_rollback_serves_the_previous_version_and_is_not_undone_by_the_next_pull(
    sync_cloud: NodeServer, keys: Path, make_edge: EdgeFactory, tmp_path: Path
) -> None:
    edge = serving_first_bundle(make_edge, sync_cloud, keys, tmp_path)
    repository(sync_cloud).publish(router_bundle(tmp_path, "Project Heron"))
    assert pull(edge).json()["current"] == 2
    assert redacts(edge, "Project Heron") and not redacts(edge, "Project Falcon")
    reply = httpx.post(f"{edge.url}/v1/sync/rollback", headers=ADMIN, timeout=60)
    assert reply.json()["current"] == 1
    assert redacts(edge, "Project Falcon") and not redacts(edge, "Project Heron")
    assert pull(edge).json()["current"] == 1  # version 2 was rolled back from
    repository(sync_cloud).publish(router_bundle(tmp_path, "Project Osprey"))
    assert pull(edge).json()["current"] == 3  # a newer publish is taken
    assert httpx.post(f"{edge.url}/v1/sync/rollback", headers=ADMIN, timeout=60).json()["current"] == 1


def test_a_new_edge_model_is_swapped_in_while_a_stream_runs_on_the_old_one(
    sync_cloud: NodeServer, keys: Path, make_edge: EdgeFactory, tmp_path: Path
) -> None:
    edge = start_edge(make_edge, sync_cloud, keys)
    before = edge.node.local  # type: ignore[attr-defined]
    model = TierSpec(model=locate_model(EDGE_MODEL), model_name=EDGE_MODEL)
    repository(sync_cloud).publish(BundleSpec(tiers={"device": model}))
    expected = chat(edge, "Count to twenty.", model="edgesplit/edge", max_tokens=48).choices[0].message.content
    answer: list[str] = []

    def stream() -> None:
        from conftest import client_for

        chunks = client_for(edge).chat.completions.create(
            model="edgesplit/edge", messages=[{"role": "user", "content": "Count to twenty."}],
            max_tokens=48, temperature=0, stream=True,
        )  # fmt: skip
        answer.extend(c.choices[0].delta.content or "" for c in chunks if c.choices)

    runner = threading.Thread(target=stream)
    runner.start()
    assert pull(edge).json()["current"] == 1
    runner.join(60)
    assert "".join(answer) == expected  # the running stream finished on the old model, unchanged
    assert edge.node.local is not before  # type: ignore[attr-defined]
    assert str(edge.node.settings.model).endswith(f"versions/1/models/{EDGE_MODEL}.gguf")  # type: ignore[attr-defined]
    assert chat(edge, "Count to twenty.", model="edgesplit/edge", max_tokens=48).choices[0].message.content == expected


def test_a_restarted_edge_serves_the_version_it_had(
    sync_cloud: NodeServer, keys: Path, make_edge: EdgeFactory, tmp_path: Path
) -> None:
    data_dir = tmp_path / "edge"
    edge = start_edge(make_edge, sync_cloud, keys, data_dir=data_dir)
    repository(sync_cloud).publish(router_bundle(tmp_path, "Project Falcon"))
    pull(edge)
    edge.stop()
    again = start_edge(make_edge, sync_cloud, keys, data_dir=data_dir)
    assert redacts(again, "Project Falcon")
    assert_serves(again, 1)


def test_a_file_corrupted_on_the_way_is_refused(
    sync_cloud: NodeServer, keys: Path, make_edge: EdgeFactory, tmp_path: Path
) -> None:
    with AppServer((mirror := HostileMirror(sync_cloud.url)).app) as proxy:
        edge = serving_first_bundle(make_edge, sync_cloud, keys, tmp_path, upstream=proxy.url)
        repository(sync_cloud).publish(router_bundle(tmp_path, "Project Heron"))
        mirror.corrupt.add(".policy.toml")  # one bit flipped between the cloud and the edge
        reply = pull(edge)
        assert reply.status_code == 409
        assert reply.json()["error"]["param"] == "corrupt"
        assert status(edge)["last_reason"] == "corrupt"
        assert 'edgesplit_sync_rejected_total{reason="corrupt"} 1.0' in httpx.get(f"{edge.url}/metrics").text
        assert redacts(edge, "Project Falcon")
        assert_serves(edge, 1)


def test_a_target_damaged_on_the_server_is_not_served_and_a_republish_repairs_it(
    sync_cloud: NodeServer, keys: Path, make_edge: EdgeFactory, tmp_path: Path
) -> None:
    edge = serving_first_bundle(make_edge, sync_cloud, keys, tmp_path)
    bundle = router_bundle(tmp_path, "Project Heron")
    repository(sync_cloud).publish(bundle)
    target = _policy_target(sync_cloud)
    data = bytearray(target.read_bytes())
    data[len(data) // 2] ^= 0x01  # one bit flipped on the server's disk
    target.write_bytes(bytes(data))
    served = httpx.get(
        f"{sync_cloud.url}/v1/sync/targets/{target.name}", headers={"authorization": f"Bearer {SYNC_TOKEN}"}
    )
    assert served.status_code == 500 and "damaged" in served.json()["error"]["message"]
    reply = pull(edge)
    assert reply.status_code == 409 and reply.json()["error"]["param"] == "unavailable"
    assert_serves(edge, 1)
    assert repository(sync_cloud).publish(bundle).version == 3  # the same files again: the damaged copy is replaced
    assert target.read_bytes() != bytes(data)
    assert pull(edge).json()["current"] == 3
    assert redacts(edge, "Project Heron")


def _policy_target(cloud: NodeServer) -> Path:
    """The policy file the newest version names, as stored on the server."""
    from tuf.api.metadata import Metadata

    repo = repository(cloud)
    latest = max(repo.metadata_dir.glob("*.targets.json"), key=lambda p: int(p.name.split(".")[0]))
    digest = Metadata.from_file(str(latest)).signed.targets["policy.toml"].hashes["sha256"]
    return repo.targets_dir / f"{digest}.policy.toml"


def test_a_bundle_signed_with_the_wrong_key_is_refused(
    sync_cloud: NodeServer, keys: Path, make_edge: EdgeFactory, tmp_path: Path
) -> None:
    from tuf.api.metadata import Metadata

    from edgesplit.sync.keys import load_signer

    edge = serving_first_bundle(make_edge, sync_cloud, keys, tmp_path)
    forged_keys = tmp_path / "forged"
    init_keys(forged_keys)
    shutil.copy(keys / "root.json", forged_keys / "root.json")  # the real root, other signing keys
    forger = SyncRepository(repository(sync_cloud).directory, forged_keys)
    with pytest.raises(ConfigError, match="not the one root v1 names"):  # publish will not sign with them
        forger.publish(router_bundle(tmp_path, "Project Heron"))
    timestamp_path = repository(sync_cloud).metadata_dir / "timestamp.json"
    forged = Metadata.from_file(str(timestamp_path))
    forged.signed.version += 1
    forged.sign(load_signer(forged_keys, "timestamp"))  # a mirror signs its own timestamp
    timestamp_path.write_bytes(forged.to_bytes())
    reply = pull(edge)
    assert reply.status_code == 409 and reply.json()["error"]["param"] == "bad_signature"
    assert redacts(edge, "Project Falcon") and not redacts(edge, "Project Heron")
    assert_serves(edge, 1)


def test_expired_timestamp_metadata_is_refused(
    sync_cloud: NodeServer, keys: Path, make_edge: EdgeFactory, tmp_path: Path
) -> None:
    edge = serving_first_bundle(make_edge, sync_cloud, keys, tmp_path)
    stale = SyncRepository(repository(sync_cloud).directory, keys, timestamp_expiry_s=-60)
    stale.publish(router_bundle(tmp_path, "Project Heron"))  # a timestamp that expired a minute ago
    reply = pull(edge)
    assert reply.status_code == 409 and reply.json()["error"]["param"] == "expired"
    assert_serves(edge, 1)


def test_an_old_version_replayed_is_refused(
    sync_cloud: NodeServer, keys: Path, make_edge: EdgeFactory, tmp_path: Path
) -> None:
    edge = start_edge(make_edge, sync_cloud, keys)
    repo = repository(sync_cloud)
    repo.publish(router_bundle(tmp_path, "Project Falcon"))
    old_timestamp = (repo.metadata_dir / "timestamp.json").read_bytes()
    repo.publish(router_bundle(tmp_path, "Project Heron"))
    assert pull(edge).json()["current"] == 2
    (repo.metadata_dir / "timestamp.json").write_bytes(old_timestamp)  # a mirror replays version 1
    reply = pull(edge)
    assert reply.status_code == 409 and reply.json()["error"]["param"] == "rollback"
    assert redacts(edge, "Project Heron")
    assert_serves(edge, 2)


def test_the_sync_repository_needs_the_token(sync_cloud: NodeServer, tmp_path: Path) -> None:
    repository(sync_cloud).publish(router_bundle(tmp_path))
    assert httpx.get(f"{sync_cloud.url}/v1/sync/metadata/timestamp.json").status_code == 401
    headers = {"authorization": f"Bearer {SYNC_TOKEN}"}
    assert httpx.get(f"{sync_cloud.url}/v1/sync/metadata/timestamp.json", headers=headers).status_code == 200
    assert httpx.get(f"{sync_cloud.url}/v1/sync/metadata/..%2Fkeys", headers=headers).status_code == 404


def test_a_device_syncs_through_its_local_tier(
    sync_cloud: NodeServer, keys: Path, make_edge: EdgeFactory, tmp_path: Path
) -> None:
    local = make_edge(
        role="local", model=EDGE_MODEL, api_token="local-token", upstream=sync_cloud.url, upstream_token=SYNC_TOKEN
    )
    device = make_edge(
        upstream=local.url,
        upstream_token="local-token",
        sync_root=keys / "root.json",
        sync_interval_s=0,
        admin_token=ADMIN_TOKEN,
    )
    repository(sync_cloud).publish(router_bundle(tmp_path, "Project Falcon"))
    reply = pull(device)
    assert reply.status_code == 200, reply.text
    assert reply.json()["current"] == 1
    assert redacts(device, "Project Falcon")
    assert httpx.get(f"{local.url}/v1/sync/metadata/timestamp.json").status_code == 401  # the local tier's token


def test_a_model_that_fails_its_smoke_test_is_refused_and_not_retried(
    sync_cloud: NodeServer, keys: Path, make_edge: EdgeFactory, tmp_path: Path
) -> None:
    edge = serving_first_bundle(make_edge, sync_cloud, keys, tmp_path)
    broken = tmp_path / "broken.gguf"
    broken.write_bytes(b"GGUF" + bytes(4096))  # signed and intact, but not a model llama.cpp can load
    repository(sync_cloud).publish(BundleSpec(tiers={"device": TierSpec(model=broken, model_name=EDGE_MODEL)}))
    reply = pull(edge)
    assert reply.status_code == 409 and reply.json()["error"]["param"] == "smoke"
    assert redacts(edge, "Project Falcon")  # version 1's policy still applies
    assert_serves(edge, 1)
    again = pull(edge)  # the refused version is not downloaded and tried again
    assert again.status_code == 200 and again.json()["current"] == 1
