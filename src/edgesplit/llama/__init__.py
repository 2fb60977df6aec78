"""llama.cpp glue: loading the runtime for this CPU, and filtering its log."""

from edgesplit.llama.runtime import LlamaRuntime, ensure_llama

__all__ = ["LlamaRuntime", "ensure_llama"]
