"""SyncRepository (cloud/repository.py): publishing that cannot corrupt or launder a bundle.

Real TUF metadata and real files in a temporary repository; no server needed.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from conftest import EDGE_MODEL
from edgesplit.cli import app
from edgesplit.cloud.repository import BundleSpec, SyncRepository, TierSpec
from edgesplit.errors import ConfigError
from edgesplit.routing.artifact import load_artifact, save_artifact
from edgesplit.routing.learned import packaged_router
from edgesplit.sync.keys import init_keys


@pytest.fixture
def repo(tmp_path: Path) -> SyncRepository:
    init_keys(tmp_path / "keys")
    return SyncRepository(tmp_path / "sync", tmp_path / "keys")


def policy(tmp_path: Path, text: str = 'privacy_deny_list = ["Project Falcon"]\n') -> Path:
    path = tmp_path / "policy.toml"
    path.write_text(text)
    return path


def stored(repo: SyncRepository, name: str) -> Path:
    return next(p for p in repo.targets_dir.rglob(f"*.{name}"))


def test_a_published_file_is_a_copy_that_later_edits_cannot_reach(repo: SyncRepository, tmp_path: Path) -> None:
    source = policy(tmp_path)
    repo.publish(BundleSpec(policy=source))
    copy = stored(repo, "policy.toml")
    assert copy.stat().st_ino != source.stat().st_ino
    source.write_text("privacy_deny_list = []\n")  # edited in place after publishing
    assert "Project Falcon" in copy.read_text()
    assert repo.current_spec().policy == copy


def test_republishing_replaces_a_damaged_stored_target(repo: SyncRepository, tmp_path: Path) -> None:
    source = policy(tmp_path)
    repo.publish(BundleSpec(policy=source))
    copy = stored(repo, "policy.toml")
    copy.write_text('privacy_deny_list = ["Project Fa1con"]\n')  # same name, other bytes
    repo.publish(BundleSpec(policy=source))
    assert copy.read_text() == source.read_text()


def test_a_refit_cannot_launder_a_policy_changed_on_disk(repo: SyncRepository, tmp_path: Path) -> None:
    router = packaged_router(EDGE_MODEL)
    assert router is not None
    repo.publish(BundleSpec({"device": TierSpec(model_name=EDGE_MODEL, router=router)}, policy(tmp_path)))
    stored(repo, "policy.toml").write_text("privacy_deny_list = []\n")  # replaced with no key involved
    with pytest.raises(ConfigError, match="differs from what was signed"):
        repo.current_spec()  # what refit republishes from: it refuses, so nothing unsigned is signed
    assert repo.current() is not None and repo.current().version == 1  # type: ignore[union-attr]


def test_a_router_of_the_wrong_width_is_never_published(repo: SyncRepository, tmp_path: Path) -> None:
    router = packaged_router(EDGE_MODEL)
    assert router is not None
    artifact = load_artifact(router)
    n = 12  # a consistent artifact, but for a 3-wide model: SmolLM2-135M is 576 wide
    names = [f"h{i}" for i in range(n - len(artifact.feature_names))] + list(artifact.feature_names)
    update = {
        "features": "hidden+cues",
        "coef": [0.0] * n,
        "mean": [0.0] * n,
        "scale": [1.0] * n,
        "feature_names": names,
    }
    wide = artifact.model_copy(update=update)
    path = tmp_path / "wide.json"
    save_artifact(wide, path)
    with pytest.raises(ConfigError, match="features, this model needs"):
        repo.publish(BundleSpec({"device": TierSpec(model_name=EDGE_MODEL, router=path)}))
    assert repo.current() is None


def test_a_bad_policy_is_never_published(repo: SyncRepository, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="privacy_mode"):
        repo.publish(BundleSpec(policy=policy(tmp_path, 'privacy_mode = "loose"\n')))
    assert repo.current() is None


def test_serve_honours_the_config_files_role_and_refuses_a_disagreeing_flag(tmp_path: Path) -> None:
    from edgesplit.cli.app import _chosen_role
    from edgesplit.config import load_settings

    config = tmp_path / "cloud.toml"
    config.write_text('role = "cloud"\napi_token = "t"\n')
    assert _chosen_role(None, config) is None
    assert load_settings(config, role=_chosen_role(None, config)).role == "cloud"
    assert _chosen_role("cloud", config) == "cloud"
    result = CliRunner().invoke(app, ["serve", "-c", str(config), "--role", "edge"])
    assert result.exit_code == 2 and "disagrees" in result.output
