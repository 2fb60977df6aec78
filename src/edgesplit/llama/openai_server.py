"""llama-cpp-python's own OpenAI-compatible server, on edgesplit's llama.cpp build.

``python -m llama_cpp.server`` cannot open a model with the build ``tools/llama_build.py``
makes: its CPU backends are loaded at run time, and llama-cpp-python does not load them
("Failed to load model from file"). This entry point loads them first (llama/runtime.py),
resolves a registry name (``edgesplit models``) to its GGUF file, and runs that server
unchanged::

    python -m edgesplit.llama.openai_server --model qwen2.5-coder-1.5b-instruct --port 8001

Every other option is llama_cpp.server's own (``--help``). It needs the ``openai-server`` extra.
Point a tier at it with an ``[[upstreams]]`` entry of ``kind = "openai"`` (README).
"""

from __future__ import annotations

import runpy
import sys

from edgesplit.llama.runtime import ensure_llama
from edgesplit.models import is_model_path, locate_model

__all__ = ["main"]


def _resolved(argv: list[str]) -> list[str]:
    """``argv`` with a registry name after ``--model`` replaced by its GGUF path."""
    out = list(argv)
    for index, arg in enumerate(out[:-1]):
        if arg == "--model" and not is_model_path(out[index + 1]):
            out[index + 1] = str(locate_model(out[index + 1]))
    return out


def main(argv: list[str] | None = None) -> None:
    ensure_llama()
    sys.argv = ["llama_cpp.server", *_resolved(sys.argv[1:] if argv is None else argv)]
    runpy.run_module("llama_cpp.server", run_name="__main__", alter_sys=True)


if __name__ == "__main__":
    main()
