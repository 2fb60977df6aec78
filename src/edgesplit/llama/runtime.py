"""Load llama.cpp once per process, with the CPU backend that this CPU can run.

edgesplit's install builds llama.cpp with runtime CPU dispatch (``tools/llama_build.py``): the
CPU backend exists once per instruction-set level (``libggml-cpu-haswell.so`` for AVX2 up to
``libggml-cpu-zen4.so`` for AVX-512 BF16), and none holds AMX code. llama-cpp-python does not
load such backends itself (ggml looks beside the Python executable), so :func:`ensure_llama`
asks ggml to load the best variant from llama-cpp-python's library folder before the first
model opens. ``EDGESPLIT_LLAMA_CPU_VARIANT=haswell`` forces one variant, for a machine whose
CPU reports features its OS does not grant.

A build without variants (one linked-in CPU backend, as a plain ``pip install`` makes) still
works, with a warning: it is the build that crashes on CPUs that advertise AMX.
"""

from __future__ import annotations

import ctypes
import logging
import os
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from edgesplit.errors import ModelError

if TYPE_CHECKING:
    from llama_cpp import Llama

__all__ = ["LlamaRuntime", "ensure_llama", "loaded_cpu_library", "open_llama"]

log = logging.getLogger("edgesplit.llama")

VARIANT_ENV = "EDGESPLIT_LLAMA_CPU_VARIANT"
_MARKER = "edgesplit-build.json"


@dataclass(frozen=True)
class LlamaRuntime:
    """Which llama.cpp this process runs."""

    lib_dir: Path  # the folder libllama.so was loaded from
    dispatch: bool  # CPU variants loaded at run time (edgesplit's build)
    cpu_library: str  # the CPU backend in use, e.g. libggml-cpu-haswell.so
    built_by_edgesplit: bool  # the library folder carries tools/llama_build.py's marker


_lock = threading.Lock()
_runtime: list[LlamaRuntime] = []


def ensure_llama() -> LlamaRuntime:
    """Load llama.cpp's backends once (idempotent, thread-safe); raise ModelError if none suits this CPU."""
    with _lock:
        if not _runtime:
            _runtime.append(_load())
        return _runtime[0]


def open_llama(model_path: str, n_ctx: int, n_threads: int, **options: Any) -> Llama:
    """A llama-cpp-python ``Llama`` on this build's backend, ``n_threads`` bounding every thread it uses.

    llama-cpp-python defaults the prompt (batch) threads to the CPU count, so a model given one
    thread still kept a second one spinning (two Ray replicas of one thread each ran at 1.0x of one)."""
    ensure_llama()
    from llama_cpp import Llama

    return Llama(model_path=model_path, n_ctx=n_ctx, n_threads=n_threads, n_threads_batch=n_threads, verbose=False,
                 **options)  # fmt: skip


def _load() -> LlamaRuntime:
    try:
        import llama_cpp
    except ImportError as exc:  # pragma: no cover - install problem
        raise ModelError("llama-cpp-python is not installed") from exc
    from edgesplit.llama.log import quiet_llama_notices

    quiet_llama_notices()
    lib_dir = Path(os.environ.get("LLAMA_CPP_LIB_PATH") or Path(llama_cpp.__file__).parent / "lib")
    variants = sorted(lib_dir.glob("libggml-cpu-*.so"))
    if variants:
        _load_variant(lib_dir, variants)
    runtime = LlamaRuntime(lib_dir, bool(variants), loaded_cpu_library(), (lib_dir / _MARKER).exists())
    _report(runtime)
    return runtime


def _load_variant(lib_dir: Path, variants: list[Path]) -> None:
    # The copy of libggml that libllama linked: a wheel holds libggml.so, .so.0 and .so.0.x as three
    # files, and opening another one would load a second ggml with a registry of its own.
    ggml = ctypes.CDLL(_mapped("libggml.so") or str(lib_dir / "libggml.so"))
    ggml.ggml_backend_reg_count.restype = ctypes.c_size_t
    if ggml.ggml_backend_reg_count() > 0:
        return  # someone loaded backends already
    forced = os.environ.get(VARIANT_ENV)
    if forced:
        path = lib_dir / f"libggml-cpu-{forced}.so"
        if path not in variants:
            names = ", ".join(p.stem.removeprefix("libggml-cpu-") for p in variants)
            raise ModelError(f"{VARIANT_ENV}={forced}: no such llama.cpp CPU variant (built: {names})")
        ggml.ggml_backend_load.restype = ctypes.c_void_p
        ggml.ggml_backend_load(str(path).encode())
    else:
        ggml.ggml_backend_load_all_from_path(str(lib_dir).encode())
    ggml.ggml_backend_reg_by_name.restype = ctypes.c_void_p
    if not ggml.ggml_backend_reg_by_name(b"CPU"):
        raise ModelError(
            "no llama.cpp CPU backend runs on this CPU: edgesplit's build needs x86-64 with AVX2, FMA, F16C "
            f"and BMI2 (built: {', '.join(p.name for p in variants)})"
        )


def loaded_cpu_library() -> str:
    """The file name of the ggml CPU backend mapped into this process ('' if none is)."""
    return ", ".join(sorted({Path(path).name for path in _mapped_files() if "libggml-cpu" in Path(path).name}))


def _mapped(prefix: str) -> str | None:
    """The path of the mapped library whose file name starts with ``prefix``."""
    return next((path for path in _mapped_files() if Path(path).name.startswith(prefix)), None)


def _mapped_files() -> list[str]:
    try:
        maps = Path("/proc/self/maps").read_text()
    except OSError:  # pragma: no cover - not Linux
        return []
    return [line.split(maxsplit=5)[5] for line in maps.splitlines() if line.count(" ") >= 5 and "/" in line]


def _report(runtime: LlamaRuntime) -> None:
    if runtime.dispatch:
        log.info("llama.cpp from %s, CPU backend %s", runtime.lib_dir, runtime.cpu_library)
        return
    log.warning(
        "llama.cpp in %s was not built by edgesplit's install (one CPU backend, %s): such a build "
        "may crash on CPUs that advertise AMX. Rebuild with `make clean install` (see README, Supported CPUs)",
        runtime.lib_dir,
        runtime.cpu_library or "linked in",
    )
