"""The llama.cpp build and its loading: portable (no AMX anywhere), the right CPU variant, real decoding.

None of these needs an AMX machine: the AMX check reads the disassembly of every CPU library the
venv holds, and the detector itself is checked on a library compiled here with one AMX instruction.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import llama_cpp
import pytest

from edgesplit.llama.runtime import VARIANT_ENV, ensure_llama
from edgesplit.models import locate_model

ROOT = Path(__file__).resolve().parents[1]
LIB_DIR = Path(llama_cpp.__file__).parent / "lib"

# What each shipped variant needs, in the names the kernel prints in /proc/cpuinfo, best last.
VARIANT_FLAGS = {
    "haswell": {"avx2", "fma", "f16c", "bmi2"},
    "alderlake": {"avx2", "fma", "f16c", "bmi2", "avx_vnni"},
    "skylakex": {"avx2", "fma", "f16c", "bmi2", "avx512f", "avx512cd", "avx512vl", "avx512dq", "avx512bw"},
    "icelake": {"avx2", "avx512f", "avx512cd", "avx512vl", "avx512dq", "avx512bw", "avx512vbmi", "avx512_vnni"},
    "zen4": {"avx512f", "avx512bw", "avx512vl", "avx512vbmi", "avx512_vnni", "avx512_bf16"},
}


def _build_tool() -> ModuleType:
    spec = importlib.util.spec_from_file_location("llama_build", ROOT / "tools" / "llama_build.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["llama_build"] = module
    spec.loader.exec_module(module)
    return module


build = _build_tool()


def _cpu_flags() -> set[str]:
    line = next(li for li in Path("/proc/cpuinfo").read_text().splitlines() if li.startswith("flags"))
    return set(line.split(":", 1)[1].split())


def test_no_cpu_library_in_the_venv_holds_amx_instructions() -> None:
    libraries = sorted(LIB_DIR.glob("libggml-cpu*.so"))
    assert libraries, f"no llama.cpp CPU library in {LIB_DIR}"
    for library in libraries:
        assert build.amx_in_file(library) == [], library.name


def test_the_amx_check_finds_an_amx_instruction(tmp_path: Path) -> None:
    if shutil.which("gcc") is None:
        pytest.skip("needs gcc")
    source = tmp_path / "tile.c"
    source.write_text('void release(void) { __asm__ volatile ("tilerelease"); }\nint plain(int x) { return x + 1; }\n')
    with_amx = tmp_path / "libtile.so"
    subprocess.run(["gcc", "-shared", "-fPIC", "-mamx-tile", "-o", with_amx, source], check=True)
    assert build.amx_in_file(with_amx) == ["tilerelease"]
    source.write_text("int plain(int x) { return x + 1; }\n")
    without = tmp_path / "libplain.so"
    subprocess.run(["gcc", "-shared", "-fPIC", "-o", without, source], check=True)
    assert build.amx_in_file(without) == []


def test_the_installed_build_is_the_one_the_install_script_makes() -> None:
    marker = build.json.loads((LIB_DIR / "edgesplit-build.json").read_text())
    assert marker["key"] == build.build_key("dispatch"), "llama-cpp-python was installed some other way"
    shipped = {Path(name).stem.removeprefix("libggml-cpu-") for name in marker["cpu_libraries"]}
    assert shipped == set(build.VARIANTS)
    assert "sapphirerapids" not in shipped


def test_the_loaded_variant_is_the_best_this_cpu_supports() -> None:
    runtime = ensure_llama()
    assert runtime.dispatch and runtime.built_by_edgesplit
    flags = _cpu_flags()
    supported = [name for name in build.VARIANTS if VARIANT_FLAGS[name] <= flags]
    assert supported, "this CPU has no AVX2: edgesplit's build does not run here"
    # ggml scores variants by feature count; the last supported one in VARIANTS has the most features
    assert runtime.cpu_library == f"libggml-cpu-{supported[-1]}.so"


def _runtime_in_child(variant: str) -> subprocess.CompletedProcess[str]:
    code = "from edgesplit.llama.runtime import ensure_llama; print(ensure_llama().cpu_library)"
    env = {**os.environ, VARIANT_ENV: variant}
    return subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120)


def test_a_variant_can_be_forced() -> None:
    child = _runtime_in_child("haswell")
    assert child.returncode == 0, child.stderr
    assert child.stdout.strip() == "libggml-cpu-haswell.so"


def test_an_unknown_forced_variant_is_a_clear_error() -> None:
    child = _runtime_in_child("sapphirerapids")
    assert child.returncode != 0
    assert f"{VARIANT_ENV}=sapphirerapids: no such llama.cpp CPU variant" in child.stderr


def test_keep_variants_drops_the_others_and_refuses_a_renamed_list() -> None:
    cmake = (
        'if (GGML_SYSTEM_ARCH STREQUAL "x86")\n'
        "    ggml_add_cpu_backend_variant(x64)\n"
        "    ggml_add_cpu_backend_variant(haswell SSE42 AVX F16C FMA AVX2 BMI2)\n"
        "    ggml_add_cpu_backend_variant(sapphirerapids AVX512 AMX_TILE AMX_INT8)\n"
        'elseif(GGML_SYSTEM_ARCH STREQUAL "ARM")\n'
        "    ggml_add_cpu_backend_variant(armv8.0_1)\n"
    )
    kept = build.keep_variants(cmake, ("haswell",))
    assert "haswell SSE42" in kept and "(x64)" not in kept and "sapphirerapids" not in kept
    assert "armv8.0_1" in kept  # other architectures are left alone
    with pytest.raises(build.BuildError, match="zen4"):
        build.keep_variants(cmake, ("haswell", "zen4"))


def _decode_one_token(model: str) -> None:
    ensure_llama()
    llm = llama_cpp.Llama(model_path=str(locate_model(model)), n_ctx=128, n_threads=2, verbose=False)
    tokens = llm.tokenize(b"The capital of France is", add_bos=True)
    llm.eval(tokens)
    token = llm.sample(temp=0.0)
    assert 0 <= token < llm.n_vocab()
    assert llm.detokenize([token]).strip(), "decoded an empty token"
    llm.close()


def test_smollm2_decodes_a_token() -> None:
    _decode_one_token("smollm2-135m-instruct")


@pytest.mark.slow
def test_qwen_decodes_a_token() -> None:
    _decode_one_token("qwen2.5-coder-1.5b-instruct")
