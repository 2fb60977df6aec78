"""``edgesplit keys init``, ``edgesplit publish`` and ``edgesplit sync status|pull|rollback``, end to end."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from conftest import ADMIN_TOKEN, EDGE_MODEL, EdgeFactory, start_edge
from edgesplit.cli import app
from edgesplit.routing.learned import packaged_router
from edgesplit.server import NodeServer


def test_keys_init_writes_keys_and_a_root_and_never_overwrites(tmp_path: Path) -> None:
    runner = CliRunner()
    result = runner.invoke(app, ["keys", "init", str(tmp_path / "k")])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "k" / "root.json").is_file()
    assert oct((tmp_path / "k" / "timestamp.pem").stat().st_mode & 0o777) == "0o600"
    again = runner.invoke(app, ["keys", "init", str(tmp_path / "k")])
    assert again.exit_code == 2 and "refusing" in again.output


def test_publish_then_sync_pull_status_and_rollback(
    sync_cloud: NodeServer, keys: Path, make_edge: EdgeFactory, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("EDGESPLIT_DATA_DIR", str(sync_cloud.node.settings.resolved_data_dir()))
    monkeypatch.setenv("EDGESPLIT_SYNC_KEYS_DIR", str(keys))
    runner = CliRunner()
    router = packaged_router(EDGE_MODEL)
    assert router is not None
    first = runner.invoke(app, ["publish", "--device-router", str(router)])
    assert first.exit_code == 0, first.output
    assert "published bundle 1" in first.output and "routers/" in first.output
    bad = tmp_path / "bad.toml"
    bad.write_text('api_token = "x"\n')
    refused = runner.invoke(app, ["publish", "--policy", str(bad)])
    assert refused.exit_code == 2 and "api_token" in refused.output  # a policy may only set privacy_* keys
    edge = start_edge(make_edge, sync_cloud, keys)
    assert runner.invoke(app, ["sync", "pull", "--url", edge.url, "--admin-token", ADMIN_TOKEN]).exit_code == 0
    policy = tmp_path / "policy.toml"
    policy.write_text('privacy_deny_list = ["Project Falcon"]\n')
    assert runner.invoke(app, ["publish", "--device-router", str(router), "--policy", str(policy)]).exit_code == 0
    pulled = runner.invoke(app, ["sync", "pull", "--url", edge.url, "--admin-token", ADMIN_TOKEN])
    assert pulled.exit_code == 0, pulled.output
    assert edge.node.sync.status.current == 2  # type: ignore[attr-defined]
    rolled = runner.invoke(app, ["sync", "rollback", "--url", edge.url, "--admin-token", ADMIN_TOKEN])
    assert rolled.exit_code == 0, rolled.output
    status = runner.invoke(app, ["sync", "status", "--url", edge.url])
    assert "current version" in status.output and "last check" in status.output
    assert "last verified fresh" in status.output and "root" in status.output  # expiry per role
    assert edge.node.sync.status.current == 1  # type: ignore[attr-defined]
    nothing = runner.invoke(app, ["sync", "rollback", "--url", edge.url, "--admin-token", ADMIN_TOKEN])
    assert nothing.exit_code == 1 and "no previous" in nothing.output


def test_keys_rotate_and_publish_resign_from_the_command_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import json

    runner = CliRunner()
    keys, online = tmp_path / "keys", tmp_path / "online"
    assert runner.invoke(app, ["keys", "init", str(keys), "--online", str(online)]).exit_code == 0
    assert (online / "timestamp.pem").is_file() and not (keys / "timestamp.pem").exists()
    monkeypatch.setenv("EDGESPLIT_DATA_DIR", str(tmp_path / "cloud"))
    monkeypatch.setenv("EDGESPLIT_SYNC_KEYS_DIR", str(keys))
    router = packaged_router(EDGE_MODEL)
    assert router is not None
    published = runner.invoke(app, ["publish", "--device-router", str(router)])
    assert published.exit_code == 0 and "no online keys here" in published.output  # the cloud signs the rest
    rotated = runner.invoke(app, ["keys", "rotate", str(keys), "--role", "root", "--role", "targets"])
    assert rotated.exit_code == 0, rotated.output
    assert "root v2 written" in rotated.output and "targets re-signed as v2" in rotated.output
    assert json.loads((keys / "2.root.json").read_text())["signed"]["version"] == 2
    resigned = runner.invoke(app, ["publish", "--resign"])
    assert resigned.exit_code == 0 and "targets v3" in resigned.output
    bad = runner.invoke(app, ["keys", "rotate", str(keys), "--role", "nobody"])
    assert bad.exit_code == 2 and "no TUF role" in bad.output
