"""Restore: placeholders in answers → original values, whole or streamed.

Models do not always copy placeholders exactly, so restoration accepts ``<PERSON_1>``,
``[person_1]``, ``{Person 1}``, ``< PERSON-1 >`` and a bare ``PERSON_1``; a placeholder that is
not in the conversation's mapping passes through unchanged. In a stream, text is held back
only while it could still be the start of a placeholder (an opening bracket or an upper-case
type-name prefix at the end of what arrived), so at most a few characters wait.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from edgesplit.privacy.vault import Mapping, placeholder_type

__all__ = ["StreamRestorer", "restore"]

_OPEN, _CLOSE = "<[{(", ">]})"
_MAX_PLACEHOLDER = 40  # longest text a placeholder can span, brackets and spaces included


def _pattern(types: Iterable[str]) -> re.Pattern[str]:
    names = "|".join(sorted((re.escape(t) for t in set(types)), key=len, reverse=True)) or "(?!)"
    bracketed = rf"[<\[{{(]\s*(?i:({names}))[\s_-]*(\d+)\s*[>\]}})]?"
    bare = rf"\b({names})_(\d+)\b"
    return re.compile(f"{bracketed}|{bare}")


def _types(mapping: Mapping) -> list[str]:
    """The entity types that have placeholders in ``mapping`` (``<PERSON_1>`` → ``PERSON``)."""
    placeholders = tuple(mapping.value_of)  # one atomic copy: a worker thread may be adding to it
    return sorted({placeholder_type(placeholder) for placeholder in placeholders})


def _replace(mapping: Mapping, text: str, pattern: re.Pattern[str]) -> str:
    def sub(m: re.Match[str]) -> str:
        kind = (m.group(1) or m.group(3)).upper()
        number = m.group(2) or m.group(4)
        return mapping.value_of.get(f"<{kind}_{int(number)}>", m.group(0))

    return pattern.sub(sub, text)


def restore(mapping: Mapping, text: str) -> str:
    """Every known placeholder in ``text`` replaced by its value."""
    types = _types(mapping)
    return _replace(mapping, text, _pattern(types)) if types else text


class StreamRestorer:
    """Feed text deltas, get restored text back; :meth:`flush` at the end of the stream."""

    def __init__(self, mapping: Mapping) -> None:
        self.mapping = mapping
        self._types = _types(mapping)
        self._pattern = _pattern(self._types)  # built once per stream, not per delta
        self._held = ""

    def feed(self, delta: str) -> str:
        buffer = self._held + delta
        if not self._types:
            return buffer
        cut = self._hold_from(buffer)
        self._held = buffer[cut:]
        return _replace(self.mapping, buffer[:cut], self._pattern)

    def flush(self) -> str:
        held, self._held = self._held, ""
        return _replace(self.mapping, held, self._pattern)

    def _hold_from(self, buffer: str) -> int:
        """Index from which the tail could still grow into a placeholder (len(buffer) if none)."""
        start = max(0, len(buffer) - _MAX_PLACEHOLDER)
        for i in range(start, len(buffer)):
            if self._could_grow(buffer[i:], at_word_start=i == 0 or not buffer[i - 1].isalnum()):
                return i
        return len(buffer)

    def _could_grow(self, tail: str, at_word_start: bool) -> bool:
        if tail[0] in _OPEN:
            m = re.fullmatch(r"\s*([A-Za-z_]*?)[\s_-]*(\d*)\s*", tail[1:])
            if m is None:
                return False
            name = m.group(1).upper()
            if m.group(2):  # digits seen: a closing bracket may still come
                return name in self._types
            return any(t.startswith(name) for t in self._types)
        if not at_word_start or not tail[0].isupper():
            return False
        m = re.fullmatch(r"([A-Z_]*?)(?:_(\d*))?", tail)
        if m is None:
            return False
        name = m.group(1)
        if m.group(2) is not None:  # "PERSON_" or "PERSON_1": more digits may come
            return name in self._types
        return any(t.startswith(name) for t in self._types)
