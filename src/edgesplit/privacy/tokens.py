"""Words of a text as strict-mode redaction reads them (the core of each whitespace token, and where it
stands), and the spans it finds.

A token's *core* is the token without the punctuation around it (quotes, brackets, a bullet
before, a stop or a comma after) and without a possessive ``'s``. Redaction replaces cores, so
"(Hardy-Jones's)" keeps its brackets and possessive and loses the name.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

__all__ = ["StrictSpan", "Token", "tokenize"]

_RAW = re.compile(r"\S+")
_LEAD = "\"'([{<\u201c\u2018\u00ab*\u2022-\u2013\u2014#"
_TRAIL = ".,;:!?)]}>\"'\u201d\u2019\u00bb\u2026"
_POSSESSIVE = re.compile(r"['\u2019]s$")
_DIGIT = re.compile(r"\d")


@dataclass(frozen=True)
class StrictSpan:
    """``text[start:end]`` is not vouched for; ``personal`` says it ties the text to a person."""

    type: str
    start: int
    end: int
    personal: bool


@dataclass(frozen=True)
class Token:
    """``text[start:end]`` is the core; ``gap`` is the text between the previous core and this one."""

    start: int
    end: int
    core: str
    gap: str
    trail: str  # the punctuation stripped after the core (and the possessive)
    sentence_start: bool

    @property
    def has_digit(self) -> bool:
        return _DIGIT.search(self.core) is not None

    @property
    def capitalised(self) -> bool:
        """Opens with a capital letter and holds no digit ("O'Brien", "Ó", "JSON", "McCann")."""
        return self.core[:1].isupper() and not self.has_digit

    @property
    def breaks_after(self) -> bool:
        """Does punctuation after the core end a run of words (a comma, a stop that is no initial)?"""
        if not self.trail:
            return False
        return not (self.trail == "." and len(self.core) == 1 and self.core.isupper())


def tokenize(text: str) -> list[Token]:
    """The tokens of ``text`` with a core (a word, a number), in order."""
    tokens: list[Token] = []
    last_end = 0
    for m in _RAW.finditer(text):
        raw = m.group(0)
        lead = len(raw) - len(raw.lstrip(_LEAD))
        core = raw[lead:].rstrip(_TRAIL)
        if not core:
            continue
        if core[0].isdigit() and lead and raw[lead - 1] in "-+#":  # a sign belongs to the number: +353, -5, #6240
            lead -= 1
            core = raw[lead] + core
        possessive = _POSSESSIVE.search(core)
        if possessive and len(core) > 3:
            core = core[: possessive.start()]
        start = m.start() + lead
        end = start + len(core)
        gap = text[last_end:start]
        tokens.append(Token(start, end, core, gap, text[end : m.end()], _opens_sentence(tokens, gap)))
        last_end = end
    return tokens


def _opens_sentence(tokens: list[Token], gap: str) -> bool:
    if not tokens or "\n" in gap:
        return True
    before = gap.strip()  # the previous token's trailing punctuation and this one's leading
    if any(ch in before for ch in "!?:;") or gap.endswith(('"', "“", "«")):
        return True  # an opening quotation mark opens a sentence too: 'she said, "Can you?"'
    if before.endswith(")") and len(tokens[-1].core) <= 2 and "(" not in before:
        return True  # a list item: "a) An answer", "2) The next"
    return "." in before and not (len(tokens[-1].core) <= 3 and tokens[-1].core[:1].isupper())  # "Dr.", "J."
