"""Draft text to the verifier's tokens, at the seam with the answer so far.

The edge drafts with its own tokenizer and sends text. Tokenized on its own, a draft that
continues a word ("wor" + "ld") gets other tokens than the model would produce for the whole
text, and the verifier would reject a correct draft. So the draft is tokenized together with
the text of the last few answer tokens, and the tokens after those are the draft; if the
tokenizer merges across the seam (the tail does not come back unchanged), a shorter tail is
tried, down to the draft alone. Only acceptance depends on this: whatever the tokens, the
verifier keeps only what its own greedy choice agrees with.
"""

from __future__ import annotations

from typing import Protocol

__all__ = ["align_draft", "split_complete_utf8"]

_LOOKBEHIND = 3  # answer tokens re-tokenized with the draft


class _Tokenizer(Protocol):
    llm: object

    def piece(self, token: int) -> bytes: ...


def _tokenize(tokenizer: _Tokenizer, data: bytes) -> list[int] | None:
    if not data:
        return []
    try:
        return list(tokenizer.llm.tokenize(data, add_bos=False, special=False))  # type: ignore[attr-defined]
    except (RuntimeError, UnicodeDecodeError):
        return None


def align_draft(tokenizer: _Tokenizer, answer: list[int], draft: bytes) -> list[int]:
    """Token ids of ``draft`` (bytes that follow the answer's bytes) as the model would continue ``answer``."""
    for lookbehind in range(min(_LOOKBEHIND, len(answer)), 0, -1):
        tail = answer[-lookbehind:]
        ids = _tokenize(tokenizer, b"".join(tokenizer.piece(t) for t in tail) + draft)
        if ids is not None and ids[:lookbehind] == tail:
            return ids[lookbehind:]
    return _tokenize(tokenizer, draft) or []


def split_complete_utf8(data: bytes) -> tuple[str, bytes]:
    """``data`` decoded up to an incomplete UTF-8 character at its end, and those held-back bytes."""
    try:
        return data.decode("utf-8"), b""
    except UnicodeDecodeError as exc:
        if exc.reason == "unexpected end of data" and exc.end == len(data):
            return data[: exc.start].decode("utf-8", errors="replace"), data[exc.start :]
        return data.decode("utf-8", errors="replace"), b""
