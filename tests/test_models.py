"""Model files: located offline, assembled atomically, sha256-verified before loading."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from conftest import EdgeFactory, chat, client_for, route_info
from edgesplit import models
from edgesplit.errors import IntegrityError, ModelError


def test_edge_model_is_located_and_verified() -> None:
    path = models.locate_model("smollm2-135m-instruct")
    assert path.name.endswith(".gguf") and path.stat().st_size > 50_000_000


def test_unknown_model_name() -> None:
    with pytest.raises(ModelError, match="known models"):
        models.locate_model("llama-9000")


def test_tampered_file_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    good = tmp_path / "model.gguf"
    good.write_bytes(b"GGUF" + b"\0" * 1000)
    digest = hashlib.sha256(good.read_bytes()).hexdigest()
    spec = models.ModelSpec("tiny", "test file", digest, 0, lambda: good)
    monkeypatch.setitem(models.MODELS, "tiny", spec)
    assert models.locate_model("tiny") == good
    good.write_bytes(b"GGUF" + b"\1" * 1000)  # same size, different content
    with pytest.raises(IntegrityError, match="does not match"):
        models.locate_model("tiny")


def test_wrong_recorded_digest_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "model.gguf"
    path.write_bytes(b"GGUF")
    monkeypatch.setitem(models.MODELS, "tiny", models.ModelSpec("tiny", "test file", "0" * 64, 0, lambda: path))
    with pytest.raises(IntegrityError):
        models.locate_model("tiny")


def test_assembly_is_atomic_concatenation(tmp_path: Path) -> None:
    parts = []
    for i in range(3):
        part = tmp_path / f"part{i}"
        part.write_bytes(bytes([i]) * 5)
        parts.append(part)
    target = tmp_path / "out" / "model.gguf"
    models._assemble(parts, target)
    assert target.read_bytes() == b"\0" * 5 + b"\1" * 5 + b"\2" * 5
    assert not list(target.parent.glob("*.part"))


def test_missing_package_is_a_clear_error() -> None:
    with pytest.raises(ModelError, match="not installed"):
        models._package_file("no_such_model_package", "x.gguf")


def test_the_local_tier_model_is_assembled_once_and_verified() -> None:
    spec = models.model_spec("qwen2.5-coder-0.5b-instruct")
    path = models.locate_model(spec.name)
    assert path.stat().st_size == spec.size_bytes == 491_400_064
    assert spec.assembled() == path
    assert models.locate_model(spec.name) == path  # the second call finds the cached file


def test_any_gguf_file_can_be_named_by_path_with_an_optional_digest(tmp_path: Path) -> None:
    own = tmp_path / "my-model.gguf"
    own.write_bytes(b"GGUF" + b"\3" * 100)
    digest = hashlib.sha256(own.read_bytes()).hexdigest()
    assert models.locate_model(str(own)) == own
    assert models.locate_model(str(own), digest.upper()) == own
    assert models.model_id(str(own)) == "my-model"
    with pytest.raises(IntegrityError, match="does not match"):
        models.locate_model(str(own), "0" * 64)


def test_a_path_that_is_missing_or_not_gguf_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ModelError, match="does not exist"):
        models.locate_model(str(tmp_path / "absent.gguf"))
    text = tmp_path / "notes.gguf"
    text.write_text("hello")
    with pytest.raises(ModelError, match="not a GGUF file"):
        models.locate_model(str(text))


def test_a_registry_model_with_someone_elses_digest_is_refused() -> None:
    with pytest.raises(IntegrityError, match="registry"):
        models.locate_model("smollm2-135m-instruct", "0" * 64)


def test_a_node_serves_a_gguf_file_by_path_under_its_stem(make_edge: EdgeFactory) -> None:
    path = models.locate_model("smollm2-135m-instruct")
    digest = models.MODELS["smollm2-135m-instruct"].sha256
    edge = make_edge(model=str(path), model_sha256=digest)
    served = [m.id for m in client_for(edge).models.list().data]
    assert path.stem in served
    reply = chat(edge, "Say hi.", model=path.stem, max_tokens=4)
    assert reply.choices[0].message.content and route_info(reply)["route"] == "edge"


def test_a_node_refuses_to_load_a_file_whose_digest_differs(tmp_path: Path) -> None:
    from edgesplit.config import load_settings
    from edgesplit.server import build_node

    path = models.locate_model("smollm2-135m-instruct")
    settings = load_settings(role="edge", model=str(path), model_sha256="1" * 64, data_dir=tmp_path)
    with pytest.raises(IntegrityError):
        build_node(settings)
