"""Settings: TOML file, EDGESPLIT_* overrides, start-up validation that names the key."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from edgesplit.cli import app
from edgesplit.config import load_settings
from edgesplit.errors import ConfigError


def test_defaults_are_loopback_and_role_models() -> None:
    edge = load_settings(role="edge")
    assert edge.host == "127.0.0.1"
    assert edge.model == "smollm2-135m-instruct"
    assert load_settings(role="cloud").model == "qwen2.5-coder-1.5b-instruct"


def test_toml_then_env_then_arguments(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = tmp_path / "edge.toml"
    config.write_text('role = "edge"\nport = 9100\nupstream_timeout_s = 7.5\ncascade_threshold = -0.5\n')
    settings = load_settings(config)
    assert (settings.port, settings.upstream_timeout_s, settings.cascade_threshold) == (9100, 7.5, -0.5)
    monkeypatch.setenv("EDGESPLIT_UPSTREAM_TIMEOUT_S", "2")
    assert load_settings(config).upstream_timeout_s == 2.0
    assert load_settings(config, upstream_timeout_s=1.0).upstream_timeout_s == 1.0


def test_bad_value_names_the_key(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EDGESPLIT_UPSTREAM_TIMEOUT_S", "soon")
    with pytest.raises(ConfigError, match=r"upstream_timeout_s.*EDGESPLIT_UPSTREAM_TIMEOUT_S"):
        load_settings()


def test_unknown_toml_key_is_an_error(tmp_path: Path) -> None:
    config = tmp_path / "bad.toml"
    config.write_text("upstream_timout_s = 3\n")
    with pytest.raises(ConfigError, match="upstream_timout_s"):
        load_settings(config)


def test_missing_config_file() -> None:
    with pytest.raises(ConfigError, match="not found"):
        load_settings(Path("/nonexistent/edgesplit.toml"))


@pytest.mark.parametrize(
    ("overrides", "key"),
    [
        ({"host": "0.0.0.0"}, "api_token"),
        ({"role": "cloud", "upstream": "http://127.0.0.1:1"}, "upstream"),
        ({"upstream": "ftp://example"}, "upstream"),
        ({"port": 70000}, "port"),
        ({"cascade_threshold": 0.5}, "cascade_threshold"),
        ({"model": "llama-9000"}, "model"),
        ({"model": "/nonexistent/model.gguf"}, "model"),
        ({"model_sha256": "abc"}, "model_sha256"),
        ({"engine": "ray"}, "engine"),
        ({"role": "cloud", "api_token": "t", "engine": "ray", "ray_min_replicas": 1}, "ray_min_replicas"),
        ({"role": "cloud", "api_token": "t", "ray_min_replicas": 3, "ray_max_replicas": 2}, "ray_min_replicas"),
    ],
)
def test_inconsistent_settings_are_rejected(overrides: dict[str, object], key: str) -> None:
    with pytest.raises(ConfigError, match=f"'{key}'"):
        load_settings(**overrides)


def test_binding_beyond_loopback_with_token_is_allowed() -> None:
    assert load_settings(host="0.0.0.0", api_token="t").host == "0.0.0.0"


def test_serve_reports_config_errors_and_exits(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["serve", "--role", "cloud"])  # no api_token
    assert result.exit_code == 2
    assert "api_token" in result.output


UPSTREAM = {"url": "http://127.0.0.1:9", "name": "a"}


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"role": "cloud", "api_token": "t"}, "the cloud tier has no upstream"),
        ({"upstream": "http://127.0.0.1:8"}, "not both"),
        ({"upstreams": [UPSTREAM, {**UPSTREAM, "url": "http://127.0.0.1:8"}]}, "names must differ"),
        ({"upstreams": [{**UPSTREAM, "key_env": "EDGESPLIT_TEST_NO_SUCH_KEY"}]}, "is not set"),
        ({"upstreams": [{**UPSTREAM, "ca": "/nonexistent/ca.pem"}]}, "no such file"),
        ({"upstreams": [{**UPSTREAM, "url": "ftp://x"}]}, "url"),
        ({"upstreams": [{**UPSTREAM, "weight": 0}]}, "weight"),
        ({"upstreams": [UPSTREAM, {"url": "http://127.0.0.1:8", "scope": "site", "priority": 1}]}, "scope"),
    ],
)
def test_bad_upstreams_are_rejected(overrides: dict[str, object], message: str) -> None:
    overrides.setdefault("upstreams", [UPSTREAM])
    with pytest.raises(ConfigError, match=message):
        load_settings(**overrides)


def test_upstreams_from_toml_name_the_primary(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CLOUD_KEY", "secret")
    config = tmp_path / "device.toml"
    config.write_text(
        'role = "edge"\nupstream_strategy = "least-busy"\n'
        '[[upstreams]]\nurl = "http://127.0.0.1:8001"\nkind = "openai"\nmodel = "qwen"\n'
        '[[upstreams]]\nurl = "https://cloud.example:8443"\nname = "cloud"\nkey_env = "CLOUD_KEY"\npriority = 1\n'
    )
    settings = load_settings(config)
    assert [entry.label() for entry in settings.upstream_entries()] == ["cloud", "127.0.0.1:8001"]
    assert settings.upstream == "https://cloud.example:8443"  # the primary: sync, outbox, sessions
    assert settings.upstream_entry_secret(settings.upstreams[1]) == "secret"
    assert settings.upstream_strategy == "least-busy" and not settings.site_reachable
