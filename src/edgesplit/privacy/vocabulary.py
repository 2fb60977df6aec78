"""What the edge can vouch for: common words per language, names, public entities, abbreviations, units.

Strict-mode redaction (``privacy/strict.py``) lets a word leave the tier only when one of these
lists vouches for it; both modes drop NER finds that the lists show are not personal (``JSON``
taken for a person, ``COPD`` for an organisation, the Moon for a person). The lists live in
``data/strict/`` (``tools/make_strict_lists.py`` writes the word and name lists; the public
entities and abbreviations are kept by hand; ``places.txt`` holds countries, states and cities of
100,000 people from GeoNames, in English and Portuguese). A deployment adds its own public entities and safe tokens
through config (``privacy_public_entities``, ``privacy_safe_tokens``).

The language of a text is English or Portuguese (the supported locales: en_GB, en_US, en_AU,
en_IE, pt_PT, pt_BR), guessed from its stop words; a word is common when it is among the 25,000
most frequent of that language.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Literal

__all__ = [
    "DEFAULT_SAFE_TOKENS",
    "VERY_COMMON_RANK",
    "PrivacyMode",
    "Vocabulary",
    "guess_language",
    "is_abbreviation",
    "is_public_place",
    "name_kind",
    "word_rank",
    "word_set",
]

PrivacyMode = Literal["standard", "strict"]  # privacy_mode: see privacy/strict.py
# Digit-bearing words strict mode lets leave (config privacy_safe_tokens replaces the list).
DEFAULT_SAFE_TOKENS = (
    "COVID-19", "SARS-CoV-2", "CO2", "H2O", "O2", "SpO2", "HbA1c", "B12", "D3", "T2DM", "ICD-10", "4G", "5G", "3G",
    "3D", "2D", "2FA", "24/7", "MP3", "MP4", "IPv4", "IPv6", "UTF-8", "SHA-256", "x86", "x64", "ARM64", "Wi-Fi 6",
    "IP65", "IP66", "IP67", "IP68", "Windows 10", "Windows 11", "Python 3", "USB-C", "1st", "2nd", "3rd",
)  # fmt: skip

_DATA = Path(__file__).parent.parent / "data" / "strict"
VERY_COMMON_RANK = 3000  # a capitalised word rarer than this, right after a name, is read as part of it
_WORD = re.compile(r"[a-zà-ÿ']+")
_EN_ONLY = frozenset(
    (
        "the",
        "and",
        "of",
        "to",
        "is",
        "are",
        "was",
        "were",
        "you",
        "your",
        "with",
        "this",
        "that",
        "what",
        "which",
        "how",
        "for",
        "from",
        "have",
        "has",
    )
)
_PT_ONLY = frozenset(
    (
        "o",
        "os",
        "as",
        "um",
        "uma",
        "do",
        "da",
        "dos",
        "das",
        "no",
        "na",
        "nos",
        "nas",
        "é",
        "são",
        "com",
        "para",
        "por",
        "que",
        "não",
        "seu",
        "sua",
        "está",
    )
)


@functools.cache
def _ranks(lang: str) -> dict[str, int]:
    lines = (_DATA / f"words_{lang}.txt").read_text(encoding="utf-8").splitlines()
    words = [line for line in lines if line and not line.startswith("#")]
    return {word: rank for rank, word in enumerate(words)}


@functools.cache
def _names() -> dict[str, bool]:
    """Lowercase name -> whether a supported locale has it (``*`` in the file)."""
    lines = (_DATA / "names.txt").read_text(encoding="utf-8").splitlines()
    return {line.lstrip("*"): line.startswith("*") for line in lines if line and not line.startswith("#")}


@functools.cache
def _listed(name: str) -> frozenset[str]:
    text = (_DATA / name).read_text(encoding="utf-8")
    lines = [line.strip() for line in text.splitlines() if line.strip() and not line.startswith("#")]
    if name == "abbreviations.txt":  # several per line
        return frozenset(word for line in lines for word in line.split())
    return frozenset(lines)


def word_set(words: str) -> frozenset[str]:
    """The words of a space-separated list (how the code's own short lists are written)."""
    return frozenset(words.split())


def guess_language(text: str) -> str:
    """``en`` or ``pt``, by which language's stop words the text holds more of (ties: English)."""
    words = _WORD.findall(text[:2000].lower())
    en = sum(1 for w in words if w in _EN_ONLY)
    pt = sum(1 for w in words if w in _PT_ONLY)
    return "pt" if pt > en else "en"


def word_rank(word: str, lang: str) -> int | None:
    """Frequency rank of ``word`` (any case) in ``lang``, else in the other language (a short text's
    language is a guess, and Portuguese notes quote English words), None when it is common in neither."""
    rank = _ranks(lang).get(word.lower())
    return rank if rank is not None else _ranks("pt" if lang == "en" else "en").get(word.lower())


def name_kind(word: str) -> str | None:
    """``local`` for a name of a supported locale, ``foreign`` for another locale's, None for no name."""
    local = _names().get(word.lower())
    return None if local is None else "local" if local else "foreign"


def is_public_place(phrase: str) -> bool:
    """A country, continent, state or city of 100,000 people (English or Portuguese name), as written."""
    return phrase in _listed("places.txt")


def is_abbreviation(word: str) -> bool:
    return word in _listed("abbreviations.txt")


class Vocabulary:
    """The public entities one detector keeps: the packaged list and places, plus the deployment's own."""

    def __init__(self, public: Iterable[str] = (), safe_tokens: Iterable[str] = ()) -> None:
        self.extra = frozenset(public)
        self.safe_tokens = frozenset(t.lower() for t in safe_tokens)
        longest = max((len(e.split()) for e in (*_listed("public.txt"), *self.extra)), default=1)
        self.max_words = max(longest, 4)  # places run to four words ("Rio Grande do Sul")

    def is_public(self, phrase: str) -> bool:
        """Is ``phrase`` (as written) a public entity: a listed one, a well-known place, the deployment's own?"""
        return phrase in _listed("public.txt") or phrase in self.extra or is_public_place(phrase)

    def is_safe_token(self, token: str) -> bool:
        return token.lower() in self.safe_tokens
