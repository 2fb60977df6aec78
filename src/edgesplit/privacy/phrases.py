"""Word alternations that Python's ``re`` scans quickly.

``re`` does not index an alternation: at every word start it tries each branch in turn, which
for thirty case-insensitive cue phrases costs most of the cheap detectors' time. A lookahead on
the branches' first letters rejects almost every word start in one step (about 3x faster on
ordinary text) and matches exactly the same spans. Branches whose first letter is not certain
(a configured label such as ``(?:case|claim) no``) get the plain alternation.
"""

from __future__ import annotations

from collections.abc import Iterable

__all__ = ["word_alternation"]


def word_alternation(branches: Iterable[str]) -> str:
    """``\\b(?=[first letters])(?:b1|b2|...)``, or ``\\b(?:b1|b2|...)`` when a first letter is not certain.

    Put it inside ``(?i:...)`` for a case-insensitive match: the letter class holds both cases."""
    branches = list(branches)
    alternation = "|".join(branches)
    if not all(_starts_with_letter(branch) for branch in branches):
        return rf"\b(?:{alternation})"
    firsts = sorted({case for branch in branches for case in (branch[0].lower(), branch[0].upper())})
    return rf"\b(?=[{''.join(firsts)}])(?:{alternation})"


def _starts_with_letter(branch: str) -> bool:
    """Does every match of ``branch`` start with its first character (a letter, not quantified, no top-level |)?"""
    if not branch[:1].isalpha() or branch[1:2] in ("?", "*", "{"):
        return False
    depth, escaped = 0, False
    for ch in branch:
        if escaped:
            escaped = False
        elif ch == "\\":
            escaped = True
        elif ch in "([":
            depth += 1
        elif ch in ")]":
            depth -= 1
        elif ch == "|" and depth == 0:
            return False
    return True
