"""Word lists the detector reads: well-known places, and everyday words that are not names.

Both are written by ``tools/make_wordlists.py`` into ``data/`` (GeoNames place data, CC BY 4.0;
``wordfreq`` word frequencies; names from Faker's census-derived lists):

- ``places.txt``: countries, continents, US and Brazilian states, UK nations, and cities of
  100,000 people or more, minus names that are also given names ("Charlotte", "Austin").
- ``words.txt``: the most common English and Portuguese words, lowercase, minus given names
  and surnames. Places stay ("mobile", "edinburgh"): a caller asks :func:`known_place` first.

:func:`find_places` finds the places of the list in a text, so that a patient's town is found
even where the NER model misses it ("Paciente Maria Souza, de São Paulo"). A one-word place that
is also an everyday word counts only inside a sentence: "Mobile +44..." at the start of one is a
label, "moved to Mobile" a city. A place is personal data only in a text about a person: the
detector's context rule decides, as it does for NER.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterator
from pathlib import Path

__all__ = ["PARTICLES", "at_sentence_start", "everyday_word", "find_places", "known_place", "stop_words"]

_DATA = Path(__file__).parent.parent / "data"
# Words that join the parts of a name ("Matteo da Cunha", "Ludwig van Beethoven", "Pinto e Souza").
PARTICLES = frozenset({"da", "de", "do", "dos", "das", "di", "del", "du", "van", "von", "der", "e"})
_MAX_WORDS = 4  # "Rio Grande do Sul", "Santa Cruz de la Sierra" (particles count)
_CAPITALISED = re.compile(r"(?<![\w'\u2019-])[A-ZÀ-Ý][\wÀ-ÿ'\u2019.-]*[\wÀ-ÿ]|(?<![\w'\u2019-])[A-ZÀ-Ý](?!\w)")
_JOINER = re.compile(r" (?:(?:de|do|da|dos|das|del|la|of|upon|on|am|an|der) )?")


def known_place(name: str) -> bool:
    """Is ``name`` a well-known place, rather than a person's or a company's name?"""
    return name in _word_list("places.txt")


def everyday_word(word: str) -> bool:
    """Is ``word`` (any case) one of the most common English or Portuguese words, and not a name?"""
    return word.lower() in _word_list("words.txt")


def find_places(text: str) -> Iterator[tuple[int, int]]:
    """Spans of ``text`` that are well-known places, longest first at each capitalised word."""
    words = list(_CAPITALISED.finditer(text))
    places = _word_list("places.txt")
    i = 0
    while i < len(words):
        end = _longest_place(text, words, i, places)
        if end is None:
            i += 1
            continue
        if end > i or not (at_sentence_start(text, words[i].start()) and everyday_word(words[i].group(0))):
            yield words[i].start(), words[end].end()
        i = end + 1


def at_sentence_start(text: str, start: int) -> bool:
    """Does a word at ``start`` open a sentence, a line or the text (where every word is capitalised)?"""
    before = text[:start].rstrip(" \t\"'(\u201c")
    return not before or before[-1] in ".!?:;\n"


def _longest_place(text: str, words: list[re.Match[str]], i: int, places: frozenset[str]) -> int | None:
    """Index of the last word of the longest place starting at ``words[i]``, or None."""
    last = i
    for j in range(i + 1, min(len(words), i + _MAX_WORDS)):
        if not _JOINER.fullmatch(text, words[j - 1].end(), words[j].start()):
            break
        last = j
    for j in range(last, i - 1, -1):
        if text[words[i].start() : words[j].end()] in places:
            return j
    return None


@functools.cache
def _word_list(name: str) -> frozenset[str]:
    """A list from ``data/``: one entry per line, # comments."""
    lines = (_DATA / name).read_text(encoding="utf-8").splitlines()
    return frozenset(line for line in lines if line and not line.startswith("#"))


@functools.cache
def stop_words() -> frozenset[str]:
    """English and Portuguese stop words (word lists that ship with spaCy itself, no model needed)."""
    from spacy.lang.en.stop_words import STOP_WORDS as EN
    from spacy.lang.pt.stop_words import STOP_WORDS as PT

    return frozenset(EN | PT | {"olá", "oi", "obrigado", "obrigada", "tchau", "hello", "hi", "thanks"})
