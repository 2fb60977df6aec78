"""Drop llama.cpp notices that describe expected behaviour, keep every other message.

- "embeddings required but some input tokens were not marked as outputs": printed on every
  request whose prompt hidden state the router reads; that cost is the gate's, measured in
  bench/router.py.
- "n_ctx_seq ... > n_ctx_train (0)": printed when a GGUF is opened for its vocabulary only.

Everything else goes on to llama-cpp-python's own handler (which honours ``verbose``).
"""

from __future__ import annotations

import ctypes
from typing import Any

__all__ = ["quiet_llama_notices"]

_EXPECTED = (b"not marked as outputs", b"n_ctx_train (0)")
_INSTALLED: list[Any] = []  # keeps the ctypes callback alive


def quiet_llama_notices() -> None:
    """Install the filter once per process."""
    if _INSTALLED:
        return
    import llama_cpp
    from llama_cpp import _logger

    @llama_cpp.llama_log_callback  # type: ignore[untyped-decorator]
    def keep_unexpected(level: int, text: bytes, user_data: ctypes.c_void_p) -> None:
        if not any(notice in text for notice in _EXPECTED):
            _logger.llama_log_callback(level, text, user_data)

    _INSTALLED.append(keep_unexpected)
    llama_cpp.llama_log_set(keep_unexpected, ctypes.c_void_p(0))
