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
_JOINS = PARTICLES - {"e"}  # "Curitiba e Florianópolis" is two names, not one
_JOIN = "|".join(sorted(_JOINS))
_RUN = re.compile(rf"(?<![\w'\u2019.-]){_CAPITAL_WORD}(?: (?:(?:{_JOIN}) )?(?:[A-Z]\.|{_CAPITAL_WORD}))+(?![\w-])")
_INITIAL = re.compile(r"[A-Z]\.")
_WORDS = re.compile(rf"{_CAPITAL_WORD}|[A-Z]\.|\S+")
_MAX_WORDS = 4


def find_name_shapes(text: str) -> Iterator[tuple[int, int]]:
    """Spans of ``text`` shaped like a full name: each run of capitalised words, cut at words that are not names."""
    for run in _RUN.finditer(text):
        yield from _names_in(text, run.start(), run.end())


def _names_in(text: str, start: int, end: int) -> Iterator[tuple[int, int]]:
    """The stretches of ``text[start:end]`` made of 2 to 4 name words (particles and initials between them)."""
    stretch: list[re.Match[str]] = []
    for m in _WORDS.finditer(text, start, end):
        kind = _kind(m.group(0))
        if kind != "stop" and (stretch or kind == "name"):
            stretch.append(m)
            continue
        yield from _as_name(text, stretch)
        stretch = []
    yield from _as_name(text, stretch)


def _as_name(text: str, stretch: list[re.Match[str]]) -> Iterator[tuple[int, int]]:
    """The span of ``stretch`` without joining words at its end ("Maria da" is "Maria"), if it reads as a name."""
    while stretch and _kind(stretch[-1].group(0)) != "name":
        stretch = stretch[:-1]
    names = sum(1 for w in stretch if _kind(w.group(0)) == "name")
    if 2 <= names <= _MAX_WORDS and not known_place(text[stretch[0].start() : stretch[-1].end()]):
        yield stretch[0].start(), stretch[-1].end()


def _kind(word: str) -> str:
    """The kind of ``word``: "name" (capitalised, no everyday word), "join" (a particle, an initial) or "stop"."""
    if word in _JOINS or _INITIAL.fullmatch(word):
        return "join"
    if word[:1].isupper() and word.lower() not in stop_words() and not everyday_word(word):
        return "name"
    return "stop"
