"""Model files: located offline, assembled atomically, sha256-verified before loading."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

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
