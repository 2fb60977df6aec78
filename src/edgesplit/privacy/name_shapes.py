"""Names by their shape: two to four capitalised words, none of them an everyday word, in a text about a person.

The small English model misses names that no cue precedes, most often in Portuguese ("dúvidas
com Augusto Leão pelo telefone", "Teleconsulta: Ísis Gonçalves relatou ...") and after words it
does not know as cues ("Salary for June Turner"). A person's full name has a shape: capitalised
words, joined by a particle at most ("Matteo da Cunha"), a middle initial allowed ("Amanda D.
Collins"), and none of them a common word of English or Portuguese (``data/words.txt``, from
which given names and surnames were taken out: "June" and "Rose" stay names).

The shape alone would also take product lines and titles, so it counts only in a text about a
person (the detector's context rule: a personal identifier, a street address or a cue) and never
for a well-known place. It runs where NER runs, below NER in rank: where the model found the
name, its span stands.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from edgesplit.privacy.gazetteer import PARTICLES, everyday_word, known_place, stop_words

__all__ = ["find_name_shapes"]

_CAPITAL_WORD = r"[A-ZÀ-Ý][a-zà-ÿ'\u2019]+(?:-[A-ZÀ-Ý][a-zà-ÿ'\u2019]+)?"
_JOIN = "|".join(sorted(PARTICLES))
_RUN = re.compile(rf"(?<![\w'\u2019.-]){_CAPITAL_WORD}(?: (?:(?:{_JOIN}) )?(?:[A-Z]\.|{_CAPITAL_WORD}))+(?![\w-])")
_INITIAL = re.compile(r"[A-Z]\.")
_WORDS = re.compile(rf"{_CAPITAL_WORD}|[A-Z]\.|\S+")
_MAX_WORDS = 4


def find_name_shapes(text: str) -> Iterator[tuple[int, int]]:
    """Spans of ``text`` shaped like a full name: each run of capitalised words, cut at words that are not names."""
    for run in _RUN.finditer(text):
        yield from _names_in(text, run.start(), run.end())


def _names_in(text: str, start: int, end: int) -> Iterator[tuple[int, int]]:
    """The stretches of ``text[start:end]`` of 2 to 4 name words (particles and initials inside, not at the ends)."""
    words = list(_WORDS.finditer(text, start, end))
    first: int | None = None  # index of the first name word of the stretch being read
    for i, m in enumerate([*words, None]):
        kind = _kind(m.group(0)) if m is not None else "stop"
        if kind == "name" and first is None:
            first = i
        if kind == "stop" and first is not None:
            stretch = _trim(words[first:i])
            capitals = sum(1 for w in stretch if _kind(w.group(0)) == "name")
            value = text[stretch[0].start() : stretch[-1].end()] if stretch else ""
            if 2 <= capitals and len(stretch) <= _MAX_WORDS + 1 and not known_place(value):
                yield stretch[0].start(), stretch[-1].end()
            first = None


def _kind(word: str) -> str:
    """"name" (a capitalised word that is no everyday word), "join" (a particle or an initial), or "stop"."""
    if word in PARTICLES or _INITIAL.fullmatch(word):
        return "join"
    if word[:1].isupper() and word.lower() not in stop_words() and not everyday_word(word):
        return "name"
    return "stop"


def _trim(stretch: list[re.Match[str]]) -> list[re.Match[str]]:
    """Without particles at the end: "Maria da" is "Maria"."""
    while stretch and stretch[-1].group(0).islower():
        stretch = stretch[:-1]
    return stretch
