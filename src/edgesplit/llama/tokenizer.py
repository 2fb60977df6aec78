"""ChatTokenizer: a GGUF model's own tokenizer and chat template (via llama.cpp), without the weights' compute.

Shared by the llama.cpp backend (which passes its loaded model) and the PyTorch engine (which
opens the same GGUF in vocab-only mode), so both tokenize identically.
"""

from __future__ import annotations

import functools
import hashlib
from pathlib import Path
from typing import Any

from edgesplit.errors import ContextOverflow, ModelError
from edgesplit.generation import Prompt

__all__ = ["ChatTokenizer"]


class ChatTokenizer:
    """Chat template + tokenize / detokenize for one GGUF model."""

    def __init__(self, llm: Any, name: str = "") -> None:
        from llama_cpp.llama_chat_format import Jinja2ChatFormatter

        self.llm = llm
        template = llm.metadata.get("tokenizer.chat_template")
        if not template:
            raise ModelError(f"{name or 'model'} carries no chat template")
        self._formatter = Jinja2ChatFormatter(
            template=template, eos_token=self._token_text(llm.token_eos()), bos_token=self._token_text(llm.token_bos())
        )

    @classmethod
    def vocab_only(cls, path: Path) -> ChatTokenizer:
        """Open just the vocabulary of a GGUF file (fast, no weights)."""
        from llama_cpp import Llama

        from edgesplit.llama.runtime import ensure_llama

        ensure_llama()
        return cls(Llama(model_path=str(path), vocab_only=True, verbose=False), path.name)

    def _token_text(self, token: int) -> str:
        return str(self.llm._model.token_get_text(token)) if token >= 0 else ""

    def render(self, prompt: Prompt) -> str:
        """The exact text fed to the model: the chat template applied, or the raw completion prompt."""
        if not prompt.is_chat:
            return (prompt.text or "") + prompt.continuation
        rendered: str = self._formatter(messages=prompt.as_openai_messages()).prompt  # type: ignore[arg-type]
        return rendered + prompt.continuation

    def encode(self, prompt: Prompt) -> list[int]:
        text = self.render(prompt)
        # Chat templates spell special tokens out; raw completion prompts get a BOS like llama.cpp does.
        return list(self.llm.tokenize(text.encode("utf-8"), add_bos=not prompt.is_chat, special=prompt.is_chat))

    def tokens(self, text: str) -> list[int]:
        """Plain text as token ids: no template, no BOS, special tokens spelled out as text."""
        return list(self.llm.tokenize(text.encode("utf-8"), add_bos=False, special=False))

    @functools.cached_property
    def vocab_fingerprint(self) -> str:
        """sha256 over the vocabulary (its size and every token's text, in id order).

        Two models with the same fingerprint number their tokens alike, so one's token ids mean
        the same text to the other (speculative decoding then drafts ids, not text). About 0.7 s
        for a 152k-token vocabulary, computed once, on first use."""
        model, size = self.llm._model, int(self.llm.n_vocab())
        digest = hashlib.sha256(f"{size}\0".encode())
        for token in range(size):
            text = model.token_get_text(token)
            digest.update(text.encode("utf-8", "surrogatepass") if isinstance(text, str) else bytes(text))
            digest.update(b"\0")
        return digest.hexdigest()

    @property
    def n_vocab(self) -> int:
        return int(self.llm.n_vocab())

    def piece(self, token: int) -> bytes:
        return bytes(self.llm.detokenize([token]))

    def is_end(self, token: int) -> bool:
        import llama_cpp

        return bool(llama_cpp.llama_vocab_is_eog(self.llm._model.vocab, token))


def context_budget(n_ctx: int, prompt_tokens: int, requested: int | None, default: int) -> int:
    """max_tokens for a request; raises ContextOverflow when the prompt leaves no room."""
    room = n_ctx - prompt_tokens
    if room <= 0:
        raise ContextOverflow(
            f"prompt is {prompt_tokens} tokens; this model's context window is {n_ctx} tokens",
            param="messages",
            code="context_length_exceeded",
        )
    if requested is not None and requested > room:
        raise ContextOverflow(
            f"prompt ({prompt_tokens} tokens) + max_tokens ({requested}) exceeds the {n_ctx}-token context window",
            param="max_tokens",
            code="context_length_exceeded",
        )
    return requested if requested is not None else min(default, room)
