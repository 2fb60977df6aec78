"""The edge model's input token embeddings: a prompt summary that costs no model compute.

The mean of the prompt's rows of ``token_embd`` (read from the GGUF file, memory-mapped,
only the rows a prompt uses dequantized) is known as soon as the prompt is tokenized, before
llama.cpp evaluates anything, so a scorer on it can send a request to the cloud without the
edge spending a prompt evaluation on it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from edgesplit.errors import ModelError

__all__ = ["TokenEmbeddings", "prompt_embedder"]


class TokenEmbeddings:
    def __init__(self, gguf_path: Path) -> None:
        try:
            import gguf
        except ImportError as exc:  # pragma: no cover - install problem
            raise ModelError("token-embedding features need the gguf package (extra [engine])") from exc
        reader = gguf.GGUFReader(str(gguf_path))
        tensor = next((t for t in reader.tensors if t.name == "token_embd.weight"), None)
        if tensor is None:
            raise ModelError(f"{gguf_path.name} has no token_embd.weight tensor")
        self._rows = tensor.data
        self._type = tensor.tensor_type
        self._dequantize = gguf.quants.dequantize
        self.dim = int(tensor.shape[0])
        self.vocab = int(tensor.shape[1])

    def mean(self, tokens: Sequence[int]) -> np.ndarray:
        """Mean input embedding of ``tokens`` (float32, model width)."""
        if not tokens:
            return np.zeros(self.dim, dtype=np.float32)
        ids = np.asarray(tokens, dtype=np.int64)
        if ids.min() < 0 or ids.max() >= self.vocab:
            raise ValueError("token id outside the vocabulary")
        rows = np.asarray(self._dequantize(self._rows[ids], self._type), dtype=np.float32)
        mean: np.ndarray = rows.reshape(len(ids), self.dim).mean(axis=0)
        return mean


def prompt_embedder(model_path: Path, as_chat: bool = True) -> Callable[[str], np.ndarray]:
    """text -> mean input embedding of what the model would see: the chat prompt of a user message
    (``as_chat``, for eval data), or the text's own tokens (for scoring lines of a message)."""
    from edgesplit.generation import Prompt
    from edgesplit.llama.tokenizer import ChatTokenizer

    tokenizer = ChatTokenizer.vocab_only(model_path)
    table = TokenEmbeddings(model_path)

    def embed(text: str) -> np.ndarray:
        tokens = tokenizer.encode(Prompt(messages=(("user", text),))) if as_chat else tokenizer.tokens(text)
        return table.mean(tokens)

    return embed
