"""Build llama-cpp-python with a portable llama.cpp, cache the wheel by its flags, install it.

Why: llama-cpp-python compiles llama.cpp from source with ``-march=native``. On a CPU that
advertises AMX but whose process may not use the tile state, that build dies at its first
matrix multiply (``ldtilecfg``: general protection fault), and pip caches the wheel, so a
wheel built on one machine may be reused on another whose CPU differs.

The build here is runtime CPU dispatch (``GGML_BACKEND_DL`` + ``GGML_CPU_ALL_VARIANTS``):
ggml's CPU backend is compiled once per instruction-set level into ``libggml-cpu-<name>.so``,
and at start-up ggml loads the best one that this CPU supports (edgesplit.llama.runtime asks it
to). The variants shipped are AVX2 and up (``VARIANTS``); llama.cpp's AMX variant is left out:
ggml chooses it by CPUID alone, and its later OS-grant check (``arch_prctl``) passed on a machine
that then faulted. Every shipped CPU library is disassembled and refused if it holds an AMX
instruction. The wheel is kept in ``$EDGESPLIT_CACHE_DIR/llama-wheels/<key>/`` (default
``~/.cache/edgesplit``), where the key hashes the version, the sdist's sha256, the CMake
arguments, the variant list and the compiler; pip's own cache is never used for it.

    python tools/llama_build.py install --python .venv/bin/python   # build once per key, install
    python tools/llama_build.py native                               # the -march=native (AMX off) build
                                                                     # bench/engine.py compares against
"""

from __future__ import annotations

import argparse
import base64
import csv
import hashlib
import io
import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from pathlib import Path

VERSION = "0.3.36"
SDIST = f"llama_cpp_python-{VERSION}.tar.gz"
SDIST_SHA256 = "832db0699007f1be95a7e41ef12e88926b02ba836461e36a36372db2760c1a2e"
MARKER = "llama_cpp/lib/edgesplit-build.json"

# ggml's x86 variants from AVX2 up. Each costs about 1.7 minutes of compiling on 2 cores, so the
# list keeps one variant per step that changes the kernels: AVX2, AVX-VNNI, AVX-512,
# AVX-512 VBMI+VNNI, AVX-512 BF16. No AMX (see the module docstring).
VARIANTS = ("haswell", "alderlake", "skylakex", "icelake", "zen4")
DISPATCH_ARGS = (
    "-DGGML_NATIVE=OFF",
    "-DGGML_BACKEND_DL=ON",
    "-DGGML_CPU_ALL_VARIANTS=ON",
    "-DCMAKE_INSTALL_BINDIR=llama_cpp/lib",  # the variant libraries go beside libllama.so
    "-DLLAVA_BUILD=OFF",  # edgesplit serves text models only
)
_NO_AMX = "-mno-amx-tile -mno-amx-int8 -mno-amx-bf16"
NATIVE_ARGS = (
    "-DGGML_NATIVE=ON",
    f"-DCMAKE_C_FLAGS={_NO_AMX}",
    f"-DCMAKE_CXX_FLAGS={_NO_AMX}",
    "-DLLAVA_BUILD=OFF",
)
AMX_MNEMONICS = re.compile(r"\s(ldtilecfg|sttilecfg|tileloadd\w*|tilestored|tilerelease|tilezero|tdp\w+ps|tdpb\w+d)\s")
_VARIANT_CALL = re.compile(r"^\s*ggml_add_cpu_backend_variant\((\w+)\b[^)]*\)\s*$", re.MULTILINE)


class BuildError(RuntimeError):
    """The build cannot go on; the message says why and what to do."""


def cache_dir() -> Path:
    return Path(os.environ.get("EDGESPLIT_CACHE_DIR") or Path.home() / ".cache" / "edgesplit")


def build_key(kind: str) -> str:
    """What the wheel depends on: a wheel is reused only when all of it is the same."""
    compiler = subprocess.run(["gcc", "-dumpfullversion"], capture_output=True, text=True, check=False).stdout
    facts: dict[str, object] = {
        "version": VERSION,
        "sdist_sha256": SDIST_SHA256,
        "kind": kind,
        "cmake_args": DISPATCH_ARGS if kind == "dispatch" else NATIVE_ARGS,
        "variants": VARIANTS if kind == "dispatch" else (),
        "compiler": compiler.strip(),
        "machine": os.uname().machine,
    }
    if kind == "native":  # -march=native: the wheel is only good for this CPU's instruction sets
        facts["cpu_flags"] = sorted(_cpu_flags())
    return hashlib.sha256(json.dumps(facts, sort_keys=True).encode()).hexdigest()[:16]


def _cpu_flags() -> set[str]:
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("flags"):
            return set(line.split(":", 1)[1].split())
    return set()


def fetch_sdist(python: str) -> Path:
    """The pinned sdist, downloaded once and checked against its recorded sha256."""
    target = cache_dir() / "llama-wheels" / "sdist" / SDIST
    if not target.exists():
        target.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory() as tmp:
            pip = [python, "-m", "pip", "download", "--no-deps", "--no-binary", ":all:", "-d", tmp]
            subprocess.run([*pip, f"llama-cpp-python=={VERSION}"], check=True)
            shutil.move(str(Path(tmp) / SDIST), target)
    digest = hashlib.sha256(target.read_bytes()).hexdigest()
    if digest != SDIST_SHA256:
        target.unlink()
        raise BuildError(f"{SDIST} has sha256 {digest}, expected {SDIST_SHA256}: deleted, run again")
    return target


def keep_variants(cmake_text: str, variants: tuple[str, ...]) -> str:
    """ggml's CMakeLists with only the listed x86 CPU variants (the list is hard-coded upstream)."""
    x86 = cmake_text.index('if (GGML_SYSTEM_ARCH STREQUAL "x86")')
    end = cmake_text.index('elseif(GGML_SYSTEM_ARCH STREQUAL "ARM")', x86)
    block = cmake_text[x86:end]
    found = {m.group(1) for m in _VARIANT_CALL.finditer(block)}
    missing = set(variants) - found
    if missing:
        raise BuildError(f"ggml no longer defines the CPU variants {sorted(missing)}: update VARIANTS")
    kept = _VARIANT_CALL.sub(lambda m: m.group(0) if m.group(1) in variants else "", block)
    return cmake_text[:x86] + kept + cmake_text[end:]


def build_wheel(python: str, kind: str, out: Path) -> Path:
    """Compile the wheel (several minutes) into ``out``."""
    sdist = fetch_sdist(python)
    with tempfile.TemporaryDirectory() as tmp:
        with tarfile.open(sdist) as tar:
            if hasattr(tarfile, "data_filter"):  # Python 3.11.4+; the sdist's sha256 was checked either way
                tar.extractall(tmp, filter="data")
            else:
                tar.extractall(tmp)  # Debian 12's Python 3.11.2 has no extraction filters
        source = Path(tmp) / f"llama_cpp_python-{VERSION}"
        if kind == "dispatch":
            cmake = source / "vendor" / "llama.cpp" / "ggml" / "src" / "CMakeLists.txt"
            cmake.write_text(keep_variants(cmake.read_text(), VARIANTS))
        args = DISPATCH_ARGS if kind == "dispatch" else NATIVE_ARGS
        env = {**os.environ, "CMAKE_ARGS": " ".join(f'"{a}"' if " " in a else a for a in args)}
        env["CMAKE_BUILD_PARALLEL_LEVEL"] = str(os.cpu_count() or 2)
        built = Path(tmp) / "wheel"
        pip = [python, "-m", "pip", "wheel", "--no-deps", "--no-cache-dir", "-w", str(built), str(source)]
        print(f"llama_build: compiling llama.cpp ({kind}; {' '.join(args)})", flush=True)
        subprocess.run(pip, env=env, check=True)
        (wheel,) = built.glob("*.whl")
        return seal_wheel(wheel, kind, out)


def seal_wheel(wheel: Path, kind: str, out: Path) -> Path:
    """Refuse a wheel with AMX code; add the build marker; write it to ``out`` with a fresh RECORD."""
    with zipfile.ZipFile(wheel) as zin:
        entries = {name: zin.read(name) for name in zin.namelist()}
    cpu_libs = sorted(n for n in entries if re.search(r"llama_cpp/lib/libggml-cpu[^/]*\.so$", n))
    if not cpu_libs:
        raise BuildError("the wheel has no llama.cpp CPU backend library")
    for name in cpu_libs:
        if amx_instructions(entries[name]):
            raise BuildError(f"{name} contains AMX instructions: refusing to install it")
    marker = {
        "llama_cpp_python": VERSION,
        "kind": kind,
        "key": build_key(kind),
        "cmake_args": list(DISPATCH_ARGS if kind == "dispatch" else NATIVE_ARGS),
        "cpu_libraries": [Path(n).name for n in cpu_libs],
    }
    entries[MARKER] = json.dumps(marker, indent=2).encode()
    record = next(n for n in entries if n.endswith(".dist-info/RECORD"))
    entries[record] = _record(entries, record)
    out.mkdir(parents=True, exist_ok=True)
    partial = out / (wheel.name + ".partial")
    with zipfile.ZipFile(partial, "w", zipfile.ZIP_DEFLATED) as zout:
        for name, data in entries.items():
            zout.writestr(name, data)
    final = out / wheel.name
    partial.replace(final)  # a half-written wheel is never taken for a finished one
    return final


def _record(entries: dict[str, bytes], record_name: str) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    for name, data in entries.items():
        if name == record_name:
            writer.writerow([name, "", ""])
            continue
        digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
        writer.writerow([name, f"sha256={digest}", str(len(data))])
    return buffer.getvalue().encode()


def amx_instructions(library: bytes) -> list[str]:
    """AMX mnemonics in a shared library's disassembly (objdump from binutils)."""
    with tempfile.NamedTemporaryFile(suffix=".so") as f:
        f.write(library)
        f.flush()
        return amx_in_file(Path(f.name))


def amx_in_file(path: Path) -> list[str]:
    if shutil.which("objdump") is None:
        raise BuildError("objdump (binutils) is needed to check the llama.cpp build for AMX instructions")
    listing = subprocess.run(["objdump", "-d", "--no-show-raw-insn", str(path)], capture_output=True, text=True)
    if listing.returncode != 0:
        raise BuildError(f"objdump failed on {path}: {listing.stderr.strip()}")
    return sorted({m.group(1) for m in AMX_MNEMONICS.finditer(listing.stdout)})


def cached_wheel(python: str, kind: str) -> Path:
    """The wheel for this key, built first if the cache does not hold it."""
    folder = cache_dir() / "llama-wheels" / build_key(kind)
    found = sorted(folder.glob("*.whl"))
    if found:
        print(f"llama_build: using the cached {kind} wheel {found[0]}", flush=True)
        return found[0]
    return build_wheel(python, kind, folder)


def installed_key(python: str) -> str | None:
    """The key of the llama.cpp build installed for ``python``, or None (absent, or not built here)."""
    probe = (
        "import importlib.util, pathlib, json\n"
        "s = importlib.util.find_spec('llama_cpp')\n"
        "p = s and pathlib.Path(list(s.submodule_search_locations)[0]) / 'lib' / 'edgesplit-build.json'\n"
        "print(json.loads(p.read_text())['key'] if p and p.exists() else '')\n"
    )
    out = subprocess.run([python, "-c", probe], capture_output=True, text=True, check=True).stdout.strip()
    return out or None


def install(python: str) -> None:
    key = build_key("dispatch")
    if installed_key(python) == key:
        print(f"llama_build: llama.cpp {VERSION} (runtime dispatch, key {key}) is installed", flush=True)
        return
    print(
        "llama_build: llama.cpp is compiled once per flag set (about 12 minutes on 2 cores), "
        f"then cached in {cache_dir() / 'llama-wheels' / key}",
        flush=True,
    )
    wheel = cached_wheel(python, "dispatch")
    pip = [python, "-m", "pip", "install", "--no-cache-dir"]
    subprocess.run([*pip, "--force-reinstall", "--no-deps", str(wheel)], check=True)
    subprocess.run([*pip, str(wheel)], check=True)  # its dependencies


def native_lib(python: str) -> Path:
    """The native build's library folder, for ``LLAMA_CPP_LIB_PATH`` (bench/engine.py)."""
    key = build_key("native")
    lib = cache_dir() / "llama-native" / key / "lib"
    if not (lib / "libllama.so").exists():
        wheel = cached_wheel(python, "native")
        with tempfile.TemporaryDirectory() as tmp, zipfile.ZipFile(wheel) as z:
            z.extractall(tmp)
            lib.parent.mkdir(parents=True, exist_ok=True)
            shutil.rmtree(lib, ignore_errors=True)
            shutil.move(str(Path(tmp) / "llama_cpp" / "lib"), lib)
    return lib


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("command", choices=["install", "native", "key"])
    parser.add_argument("--python", default=sys.executable, help="the interpreter of the venv to install into")
    args = parser.parse_args()
    try:
        if args.command == "install":
            install(args.python)
        elif args.command == "native":
            print(native_lib(args.python))
        else:
            print(build_key("dispatch"))
    except (BuildError, subprocess.CalledProcessError) as exc:
        print(f"llama_build: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
