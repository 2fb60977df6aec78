"""Strict mode: what leaves the tier is what the edge can vouch for; everything else is a typed placeholder.

Standard mode finds PII by its format (validated patterns, labels, NER). Its recall is bounded by
the formats someone wrote a rule for. Strict mode turns that round and redacts every word that no
list vouches for (``privacy_mode = "strict"``, the ``clinical`` preset's default):

- **Numbers.** Every token holding a digit, unless it is a quantity with a unit (``5 mg``,
  ``3.5bar``, ``80%``, ``£250``, ``12 pumps``), a clock time, a year alone, a token the policy lists
  as safe (``privacy_safe_tokens``: ``COVID-19``, ``4G``), or a number of at most three digits in a
  text about nobody ("What is 12 times 7?"). Digit tokens next to each other (``+353 87 123
  4567``, ``SW1A 1AA``, ``D02 X285``, an extension) become one placeholder: ``PHONE_NUMBER``,
  ``POSTCODE``, ``DATE``, ``IDENTIFIER`` or ``NUMBER`` by shape (``privacy/strict_numbers.py``). So
  an identifier, a postcode or a phone number of a format no rule knows still never leaves.
- **Capitalised words.** A run of capitalised words (with particles: "Maria da Conceição",
  hyphens and apostrophes: "Hardy-Jones", "O'Brien", "Ní Bhriain") is redacted whole when one
  word of it is not vouched for: neither a common word of the text's language nor part of a
  public entity (``privacy/vocabulary.py``). A name that is also a common word ("Will", "Rose",
  "Costa") counts as a name inside a sentence, and as the word when it opens one, unless a name
  follows it. Leading everyday words stay ("Patient John Kearney": "Patient" leaves).
- **All capitals.** Names on cards ("JOHN KEARNEY") are read word by word as names; listed
  abbreviations (``JSON``, ``COPD``, ``YYYY-MM-DD``) and common words ("URGENT") stay.
- **Lower-case names.** A word of the given-name and surname lists of a supported locale that is
  not also a common word ("siobhan", "o'connor"), and the names next to it.
- **Cues.** The value of a form field ("Surname: o'connor", "Town: Cork", "Morada: ..."), to the
  end of the field, and the names after a greeting or sign-off ("hi mark", "thanks,\\ndave"),
  whatever their case.

**Public entities stay, from the sentence.** A public entity (a country, a big city, a company, a
well-known person, a product, the Moon) stays unless the sentence makes it about a person: right
after a title or a role ("patient Elvis Presley", "technician Tesla") it is a ``PERSON``; a place
in a text about a person ("moved to Lisbon") is a ``LOCATION``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Sequence

from edgesplit.privacy.phrases import word_alternation
from edgesplit.privacy.strict_numbers import find_numbers
from edgesplit.privacy.tokens import StrictSpan, Token, tokenize
from edgesplit.privacy.vocabulary import (
    VERY_COMMON_RANK,
    Vocabulary,
    guess_language,
    is_abbreviation,
    is_public_place,
    name_kind,
    word_rank,
    word_set,
)

__all__ = ["PERSON_CUES", "StrictScanner", "StrictSpan"]  # StrictSpan: privacy/tokens.py


_JOINERS = word_set(
    "da de do dos das di del du van von der den la le y e of the and & ní ni nic ó o' mac mc bin ibn al el na an"
)
_STREET = word_set(
    "street st road rd avenue ave lane close drive court crescent terrace place square way park gardens grove "
    "hill row walk view mews green parade quay wharf rise heights vale estate rua avenida travessa largo praça "
    "estrada bairro urbanização lote"
)
_ORG = word_set("ltd limited inc llc plc lda sa gmbh co company group hospital clinic school college")
_TITLES = ("mr", "mrs", "ms", "miss", "mx", "dr", "dra", "prof", "sr", "sra", "srta", "eng", "rev", "fr", "sir", "dame")
PERSON_CUES = frozenset(_TITLES) | word_set(
    "patient paciente utente doente employee colleague technician engineer nurse tenant applicant claimant client "
    "customer cliente manager supervisor driver student pupil aluno aluna son daughter wife husband partner mother "
    "father brother sister filho filha mãe pai marido mulher named called chamado chamada contact contacto dear "
    "técnico técnica enfermeiro enfermeira funcionário funcionária inquilino requerente"
)
_GREETINGS = word_set(
    "dear hi hello hey hiya olá ola oi caro cara prezado prezada exmo exma regards thanks thank cheers obrigado "
    "obrigada sincerely best atenciosamente cumprimentos signed assinado love ta bye its it's im i'm sou chamo-me"
)
_INTRODUCTIONS = word_set("its it's im i'm")  # everyday words too: "its way" is no introduction
_SIGN_OFFS = word_set("best love ta bye signed thanks thank cheers regards sincerely")  # "the best way"
_DETERMINERS = word_set("the an this that these those my your his her its our their every each some any no")
_PERSON_LABELS = (
    "full name", "first names?", "given names?", "forenames?", "surname", "last name", "family name", "maiden name",
    "name", "patient(?: name)?", "employee(?: name)?", "tenant", "applicant", "claimant", "policy ?holder",
    "next of kin", "emergency contact", "guardian", "parent", "contact(?: name)?", "signed", "signature",
    "nome(?: completo)?", "apelido", "utente", "doente", "requerente", "titular", "attn", "to", "from", "cc",
)  # fmt: skip
_PLACE_LABELS = (
    "address", "home address", "address line \\d", "street", "town", "city", "county", "suburb", "postcode",
    "post code", "postal code", "zip(?: code)?", "eircode", "state", "morada", "endereço", "localidade",
    "código postal", "freguesia", "concelho", "distrito", "cidade",
)  # fmt: skip
_FIELD = re.compile(
    rf"(?im)(?:^|(?<=[|;])|(?<=\. ))[ \t*•-]*(?:(?P<person>{word_alternation(_PERSON_LABELS)})|"
    rf"(?P<place>{word_alternation(_PLACE_LABELS)}))[ \t]*[:=][ \t]*"
)
_FIELD_END = re.compile(r"\n|[|;]|\.\s|\s{3,}|,?\s+[A-Za-zÀ-ÿ][\w/.]*(?: [\w/.]+)?\s*:(?!\d)")
_MAX_FIELD = 80  # characters of a form value
_PLACEHOLDER = re.compile(r"<[A-Z][A-Z_]*_\d+>")


class StrictScanner:
    """Finds what strict mode redacts in one text. ``personal``: the other detectors found a person's data."""

    def __init__(self, vocabulary: Vocabulary) -> None:
        self.vocabulary = vocabulary

    def scan(self, text: str, personal: bool) -> list[StrictSpan]:
        tokens = tokenize(text)
        lang = guess_language(text)
        labels, values = _fields(text)
        spans = [*values, *_greeted(tokens, lang, self.vocabulary)]
        runs = list(self._runs(tokens, lang))
        spans += [s for s in runs if isinstance(s, StrictSpan) and not _inside(s, labels)]
        spans += _lowercase_names(tokens, lang)
        personal = personal or any(s.personal for s in spans)
        spans += [s for s in _public_in_context(runs, tokens, personal) if s is not None]
        spans += find_numbers(tokens, personal, self.vocabulary)
        placeholders = [m.span() for m in _PLACEHOLDER.finditer(text)]  # a lower tier's: redacted already
        return [s for s in spans if not _inside(s, placeholders)] if placeholders else spans

    def vouched(self, phrase: str, lang: str = "en") -> bool:
        """Would strict mode let ``phrase`` leave (every word vouched for, or one public entity)?"""
        if self.vocabulary.is_public(phrase):
            return True
        words = tokenize(phrase)
        return bool(words) and all(
            not w.has_digit and _status(w.core, lang, self.vocabulary, w.sentence_start) == "V" for w in words
        )

    def _runs(self, tokens: Sequence[Token], lang: str) -> Iterator[StrictSpan | tuple[int, int, bool]]:
        """A span per run of capitalised words with an unvouched word; (first, last, is_place) per public one."""
        i = 0
        while i < len(tokens):
            if not tokens[i].capitalised:
                i += 1
                continue
            j = _run_end(tokens, i)
            yield from self._judge_run(tokens, i, j, lang)
            i = j + 1

    def _judge_run(
        self, tokens: Sequence[Token], i: int, j: int, lang: str
    ) -> Iterator[StrictSpan | tuple[int, int, bool]]:
        run = tokens[i : j + 1]
        status = [_status(t.core, lang, self.vocabulary, t.sentence_start) for t in run]
        for k, end, is_place in self._public(run):
            k, end = _widen_public(run, status, k, end, lang)
            status[k : end + 1] = ["P"] * (end + 1 - k)
            if not any(s in "NU" for s in status[:k] + status[end + 1 :]):
                yield i + k, i + end, is_place
        hits = [k for k, s in enumerate(status) if s in "NU"]
        if not hits:
            return
        first, last = hits[0], hits[-1]
        while first > 0 and (status[first - 1] in "AJ" or _joins_before(run[first - 1])):
            first -= 1  # "Will Kearney", "Market Drayton": a capitalised word inside a sentence is the name's
        while last + 1 < len(run) and (status[last + 1] in "AJ" or _joins_after(run[last + 1], lang)):
            last += 1  # "Afonso Salgueiro" (a word too), "Currawong Parade"
        kind = _run_type(tokens, i + first, run[first : last + 1], status[first : last + 1])
        yield StrictSpan(kind, run[first].start, run[last].end, kind == "PERSON" or kind == "LOCATION")

    def _public(self, run: Sequence[Token]) -> Iterator[tuple[int, int, bool]]:
        """Longest public entities in ``run``: (first, last, is a place) word indices."""
        k = 0
        while k < len(run):
            for end in range(min(len(run), k + self.vocabulary.max_words) - 1, k - 1, -1):
                phrase = " ".join(t.core for t in run[k : end + 1])
                if self.vocabulary.is_public(phrase):
                    yield k, end, is_public_place(phrase)
                    k = end
                    break
            k += 1


def _widen_public(run: Sequence[Token], status: Sequence[str], k: int, end: int, lang: str) -> tuple[int, int]:
    """A public entity takes in the everyday words next to it that are names too ("Amazon River", "Google Pixel")."""

    def everyday(i: int) -> bool:
        rank = word_rank(run[i].core, lang)
        return status[i] in "NA" and rank is not None and rank < VERY_COMMON_RANK

    while k > 0 and everyday(k - 1):
        k -= 1
    while end + 1 < len(run) and everyday(end + 1):
        end += 1
    return k, end


def _joins_before(token: Token) -> bool:
    """Is a capitalised word before a name part of it: a name, or a word capitalised inside a sentence?"""
    core = token.core.lower().rstrip(".")
    if _is_name(token):
        return True
    if token.sentence_start or core in PERSON_CUES or core in _GREETINGS:
        return False
    return not is_abbreviation(token.core)


def _joins_after(token: Token, lang: str) -> bool:
    """Is a capitalised word after a name part of it: a name, a street or company word, a word not very common?"""
    rank = word_rank(token.core, lang)
    return _is_name(token) or _suffix(token) or rank is None or rank >= VERY_COMMON_RANK


def _is_name(token: Token) -> bool:
    return name_kind(token.core) is not None


def _suffix(token: Token) -> bool:
    return token.core.lower() in _STREET or token.core.lower() in _ORG


def _run_end(tokens: Sequence[Token], i: int) -> int:
    """Index of the last token of the run of capitalised words (and particles between them) from ``i``."""
    j = i
    while j + 1 < len(tokens) and not tokens[j].breaks_after and "\n" not in tokens[j + 1].gap:
        nxt = tokens[j + 1]
        if nxt.capitalised:
            j += 1
        elif (
            nxt.core.lower() in _JOINERS
            and not nxt.breaks_after
            and j + 2 < len(tokens)
            and tokens[j + 2].capitalised
            and "\n" not in tokens[j + 2].gap
        ):
            j += 2
        else:
            break
    return j


def _status(word: str, lang: str, vocabulary: Vocabulary, sentence_start: bool) -> str:
    """V: vouched for; N: a name; U: unknown; A: a name that is a common word opening a sentence; J: a particle."""
    if word.lower() in _JOINERS and not word[:1].isupper():
        return "J"
    if is_abbreviation(word) or vocabulary.is_safe_token(word) or vocabulary.is_public(word):
        return "V"
    if name_kind(word) is not None:  # the whole word first: "o'brien", "mcdonald"
        return _name_status(word, lang, sentence_start)
    parts = [p for p in re.split(r"[-'\u2019]", word) if len(p) > 1 or (p.isupper() and len(word) == 1)]
    if len(parts) > 1:
        kinds = {_part_status(p, lang, sentence_start) for p in parts}
        return "N" if "N" in kinds else "U" if "U" in kinds else "V"
    return _part_status(word, lang, sentence_start)


def _part_status(word: str, lang: str, sentence_start: bool) -> str:
    if is_abbreviation(word):
        return "V"
    if name_kind(word) is not None:
        return _name_status(word, lang, sentence_start)
    if word.isupper() and len(word) > 1 and word_rank(word, lang) is None:
        return "U"  # an unknown acronym: a company's, a person's initials
    return "V" if word_rank(word, lang) is not None or len(word) == 1 else "U"


def _name_status(word: str, lang: str, sentence_start: bool) -> str:
    rank = word_rank(word, lang)
    if rank is None:
        return "N"
    if word.isupper() and len(word) > 1:  # "JOHN" on a card, "WILL" in a heading: the word unless a name follows
        return "A"
    return "A" if sentence_start and rank < VERY_COMMON_RANK else "N"


def _run_type(tokens: Sequence[Token], first: int, words: Sequence[Token], status: Sequence[str]) -> str:
    before = tokens[first - 1].core.lower().rstrip(".") if first else ""
    last = words[-1].core.lower()
    if last in _STREET:
        return "LOCATION"
    if last in _ORG:
        return "ORGANIZATION"
    if "N" in status or before in PERSON_CUES or before in _GREETINGS:
        return "PERSON"
    if before in ("in", "at", "from", "near", "em", "de", "no", "na", "para"):
        return "LOCATION"
    return "PROPER_NOUN"


def _public_in_context(
    runs: Iterable[StrictSpan | tuple[int, int, bool]], tokens: Sequence[Token], personal: bool
) -> Iterator[StrictSpan | None]:
    """Public entities the sentence makes personal: after a title or role; a place in a text about a person."""
    for found in runs:
        if isinstance(found, StrictSpan):
            continue
        first, last, is_place = found
        before = tokens[first - 1].core.lower().rstrip(".") if first else ""
        if before in PERSON_CUES:
            yield StrictSpan("PERSON", tokens[first].start, tokens[last].end, True)
        elif is_place and personal:
            yield StrictSpan("LOCATION", tokens[first].start, tokens[last].end, True)


def _fields(text: str) -> tuple[list[tuple[int, int]], list[StrictSpan]]:
    """The labels of the form fields about a person or a place, and their values, whatever their case."""
    labels, values = [], []
    for m in _FIELD.finditer(text):
        labels.append((m.start(), m.end()))
        end_match = _FIELD_END.search(text, m.end(), m.end() + _MAX_FIELD)
        end = end_match.start() if end_match else min(len(text), m.end() + _MAX_FIELD)
        value = text[m.end() : end].rstrip(" \t,.")
        if value.strip():
            kind = "PERSON" if m.group("person") else "LOCATION"
            values.append(StrictSpan(kind, m.end(), m.end() + len(value), True))
    return labels, values


def _inside(span: StrictSpan, ranges: Iterable[tuple[int, int]]) -> bool:
    return any(start <= span.start and span.end <= end for start, end in ranges)


def _greeted(tokens: Sequence[Token], lang: str, vocabulary: Vocabulary) -> Iterator[StrictSpan]:
    """The names after a greeting, a sign-off or an introduction, whatever their case ("hi mark",
    "Thanks,\ndave", "its narelle", "sou a leonor")."""
    for i, token in enumerate(tokens[:-1]):
        if token.core.lower() not in _GREETINGS:
            continue
        start = i + 1
        if token.core.lower() == "sou" and start < len(tokens) - 1 and tokens[start].core in ("a", "o"):
            start += 1
        j = start
        while j < len(tokens) and j < start + 4 and not tokens[j].has_digit:
            core = tokens[j].core
            rank = word_rank(core, lang)
            everyday = rank is not None and (not _is_name(tokens[j]) or _plain_word(token, tokens[j]))
            ended = j == start and any(ch in token.trail for ch in ".!?")  # "Hello! Can you...": a new sentence
            if everyday or _status(core, lang, vocabulary, ended) not in "NU" + ("" if ended else "A"):
                break  # an everyday word ("hi team", "thanks again"): no name follows
            j += 1
            if tokens[j - 1].breaks_after:
                break
        if j > start:
            yield StrictSpan("PERSON", tokens[start].start, tokens[j - 1].end, True)


def _plain_word(cue: Token, word: Token) -> bool:
    """A lower-case word of the language after a cue used as an everyday word: an introduction ("its
    way") or a sign-off inside a sentence ("the best way"), not one opening a line or set off ("hi mark")."""
    if not word.core.islower():
        return False
    if cue.core.lower() in _INTRODUCTIONS:
        rank = word_rank(word.core, "en")
        return rank is not None and rank < VERY_COMMON_RANK
    return cue.core.lower() in _SIGN_OFFS and not (cue.sentence_start or cue.trail)


def _lowercase_names(tokens: Sequence[Token], lang: str) -> Iterator[StrictSpan]:
    """Names written in lower case: a listed name of a supported locale that is no common word and
    follows no determiner ("siobhan", not "the reader"), and its neighbours; a name that is also a
    rarer word only next to another name ("duarte pereira", not "financial math")."""
    i = 0
    while i < len(tokens):
        core = tokens[i].core
        rank = word_rank(core, lang)
        strong = core.islower() and name_kind(core) == "local" and (rank is None or rank >= VERY_COMMON_RANK)
        if not strong or _plural_of_a_word(core, lang) or _after_determiner(tokens, i, lang):
            i += 1
            continue
        first = last = i
        while first > 0 and _lower_name(tokens[first - 1]) and not tokens[first - 1].breaks_after:
            first -= 1
        while last + 1 < len(tokens) and _lower_name(tokens[last + 1]) and not tokens[last].breaks_after:
            last += 1
        if first == last and rank is not None:
            i += 1  # a name that is also a word ("math", "aura"), alone: the word
            continue
        yield StrictSpan("PERSON", tokens[first].start, tokens[last].end, True)
        i = last + 1


def _plural_of_a_word(word: str, lang: str) -> bool:
    """ "rivers", "hills": a very common word's plural, not the surname it also is."""
    rank = word_rank(word[:-1], lang) if word.endswith("s") else None
    return rank is not None and rank < VERY_COMMON_RANK


def _after_determiner(tokens: Sequence[Token], i: int, lang: str) -> bool:
    """ "the reader", "a math teacher": a word after an English determiner is no lower-case name."""
    if not i or "\n" in tokens[i].gap or tokens[i - 1].breaks_after:
        return False
    before = tokens[i - 1].core.lower()
    return before in _DETERMINERS or (before == "a" and lang == "en")


def _lower_name(token: Token) -> bool:
    return token.core.islower() and name_kind(token.core) is not None and "\n" not in token.gap
