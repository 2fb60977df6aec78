"""Strict mode: what leaves the tier is what the edge can vouch for; everything else is a typed placeholder.

Standard mode finds PII by its format (validated patterns, labels, NER). Its recall is bounded by
the formats someone wrote a rule for. Strict mode turns that round and redacts every word that no
list vouches for (``privacy_mode = "strict"``, the ``clinical`` preset's default):

- **Numbers.** Every token holding a digit, unless it is a quantity with a unit (``5 mg``,
  ``3.5bar``, ``80%``, ``£250``, ``12 pumps``), a clock time, a year alone, a token the policy lists
  as safe (``privacy_safe_tokens``: ``COVID-19``, ``4G``), or a number of at most three digits in a
  text about nobody ("What is 12 times 7?"). Digit tokens next to each other (``+353 87 123
  4567``, ``SW1A 1AA``, ``D02 X285``, an extension) become one placeholder: ``PHONE_NUMBER``,
  ``POSTCODE``, ``DATE``, ``IDENTIFIER`` or ``NUMBER`` by shape. So an identifier, a postcode or a
  phone number of a format no rule knows still never leaves.
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
from dataclasses import dataclass

from edgesplit.privacy.phrases import word_alternation
from edgesplit.privacy.tokens import Token, tokenize
from edgesplit.privacy.vocabulary import (
    VERY_COMMON_RANK,
    Vocabulary,
    guess_language,
    is_abbreviation,
    is_public_place,
    name_kind,
    word_rank,
)

__all__ = ["PERSON_CUES", "StrictScanner", "StrictSpan"]


def _set(words: str) -> frozenset[str]:
    """The words of a space-separated list."""
    return frozenset(words.split())


_UNIT = (
    r"(?:mg|mcg|µg|μg|ng|g|kg|t|ml|cl|dl|l|iu|ui|units?|mmol|mol|mmhg|bpm|°c|°f|°|ºc|c|f|km|m|cm|mm|µm|nm|mi|ft|in|"
    r"kwh|mwh|kw|mw|w|v|kv|mv|a|ma|ah|mah|hz|khz|mhz|ghz|rpm|psi|bar|mbar|kpa|mpa|pa|nm|h|hr|hrs|min|mins|s|sec|ms|"
    r"x|k|gb|mb|kb|tb|mbps|gbps|db|lux|ppm|lbs?|oz|gal|yd|kcal|cal|%|pct|p|eur|usd|gbp|brl|ha|m2|m3|m²|m³|cc)"
)
_QUANTITY = re.compile(
    rf"[~≈<>≤≥±]?(?:[$£€]\d+(?:[.,]\d+)*|\d+(?:[.,]\d+)*(?:-\d+(?:[.,]\d+)*)?{_UNIT}(?:/{_UNIT})*)", re.I
)
_CLOCK = re.compile(r"\d{1,2}(?:[:h]\d{2}(?::\d{2})?)?(?:am|pm|h)?", re.I)
_ORDINAL = re.compile(r"\d{1,3}(?:st|nd|rd|th|º|ª|o|a)", re.I)
_YEAR = re.compile(r"(?:1[5-9]|20)\d\d(?:s)?|'\d0s")
_SMALL = re.compile(r"\d{1,3}(?:[.,]\d{1,2})?")
_UNIT_WORDS = _set(
    "mg mcg g kg ml l litre litres liter liters units unit tablets tablet caps capsules doses dose puffs drops "
    "mmhg bpm degrees percent per cent km kilometres kilometers miles metres meters cm mm feet foot inches inch "
    "volts volt amps amp watts kw kwh rpm psi bar hours hour hrs minutes minute mins seconds second days day "
    "weeks week months month years year times euros euro dollars dollar pounds pound reais horas dias semanas "
    "meses anos minutos segundos vezes comprimidos graus °c °f x"
)
_SHAPES: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("POSTCODE", re.compile(r"[A-Z]{1,2}\d[A-Z\d]? ?\d[A-Z]{2}|[A-Z]\d{2} ?[A-Z\d]{4}|\d{4}-\d{3}|\d{5}-\d{3}", re.I)),
    ("DATE", re.compile(r"\d{1,4}[./-]\d{1,2}[./-]\d{1,4}")),
    ("PHONE_NUMBER", re.compile(r"(?=(?:\D*\d){8})[+(]?[\d][\d ().-]{6,}\d(?:\s*(?:ext\.?|x|ramal)\s*\d+)?", re.I)),
)
_CONNECTORS = frozenset({"ext", "ext.", "extn", "x", "ramal", "/"})
_JOINERS = _set("da de do dos das di del du van von der den la le y e of the and & ní ni nic ó o' mac mc bin ibn al el")
_STREET = _set(
    "street st road rd avenue ave lane close drive court crescent terrace place square way park gardens grove "
    "hill row walk view mews green parade quay wharf rise heights vale estate rua avenida travessa largo praça "
    "estrada bairro urbanização lote"
)
_ORG = _set("ltd limited inc llc plc lda sa gmbh co company group hospital clinic school college")
_TITLES = ("mr", "mrs", "ms", "miss", "mx", "dr", "dra", "prof", "sr", "sra", "srta", "eng", "rev", "fr", "sir", "dame")
PERSON_CUES = frozenset(_TITLES) | _set(
    "patient paciente utente doente employee colleague technician engineer nurse tenant applicant claimant client "
    "customer cliente manager supervisor driver student pupil aluno aluna son daughter wife husband partner mother "
    "father brother sister filho filha mãe pai marido mulher named called chamado chamada contact contacto dear "
    "técnico técnica enfermeiro enfermeira funcionário funcionária inquilino requerente"
)
_GREETINGS = _set(
    "dear hi hello hey hiya olá ola oi caro cara prezado prezada exmo exma regards thanks thank cheers obrigado "
    "obrigada sincerely best atenciosamente cumprimentos signed assinado love ta bye"
)
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


@dataclass(frozen=True)
class StrictSpan:
    """``text[start:end]`` is not vouched for; ``personal`` says it ties the text to a person."""

    type: str
    start: int
    end: int
    personal: bool


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
        spans += _numbers(tokens, personal, self.vocabulary)
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
            status[k : end + 1] = ["P"] * (end + 1 - k)
            if not any(s in "NU" for s in status[:k] + status[end + 1 :]):
                yield i + k, i + end, is_place
        hits = [k for k, s in enumerate(status) if s in "NU"]
        if not hits:
            return
        first, last = hits[0], hits[-1]
        while first > 0 and (status[first - 1] in "AJ" or name_kind(run[first - 1].core) is not None):
            first -= 1  # "Will Kearney", "Jordan Kearney": a name-word before a name is the name
        while last + 1 < len(run) and (status[last + 1] in "AJ" or _suffix(run[last + 1]) or _is_name(run[last + 1])):
            last += 1
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
    """The names after a greeting or a sign-off, whatever their case ("hi mark", "Thanks,\\ndave")."""
    for i, token in enumerate(tokens[:-1]):
        if token.core.lower() not in _GREETINGS:
            continue
        j = i + 1
        while j < len(tokens) and j <= i + 3 and not tokens[j].has_digit:
            core = tokens[j].core
            everyday = word_rank(core, lang) is not None and not _is_name(tokens[j])
            if everyday or _status(core, lang, vocabulary, False) not in "NUA":
                break  # an everyday word ("hi team", "thanks again"): no name follows
            j += 1
            if tokens[j - 1].breaks_after:
                break
        if j > i + 1:
            yield StrictSpan("PERSON", tokens[i + 1].start, tokens[j - 1].end, True)


def _lowercase_names(tokens: Sequence[Token], lang: str) -> Iterator[StrictSpan]:
    """Names written in lower case: a listed name of a supported locale that is no common word, and its neighbours."""
    i = 0
    while i < len(tokens):
        core = tokens[i].core
        if not (core.islower() and name_kind(core) == "local" and word_rank(core, lang) is None):
            i += 1
            continue
        first = last = i
        while first > 0 and _lower_name(tokens[first - 1]) and not tokens[first - 1].breaks_after:
            first -= 1
        while last + 1 < len(tokens) and _lower_name(tokens[last + 1]) and not tokens[last].breaks_after:
            last += 1
        yield StrictSpan("PERSON", tokens[first].start, tokens[last].end, True)
        i = last + 1


def _lower_name(token: Token) -> bool:
    return token.core.islower() and name_kind(token.core) is not None and "\n" not in token.gap


def _numbers(tokens: Sequence[Token], personal: bool, vocabulary: Vocabulary) -> Iterator[StrictSpan]:
    """Digit tokens no rule vouches for; neighbours (and extensions) become one span."""
    i = 0
    while i < len(tokens):
        if not tokens[i].has_digit:
            i += 1
            continue
        last = _group_end(tokens, i)
        if last == i and _safe_number(tokens, i, personal, vocabulary):
            i += 1
            continue
        start, end = tokens[i].start, tokens[last].end
        yield StrictSpan(_number_type(tokens, i, last), start, end, last > i or len(_digits(tokens[i].core)) > 3)
        i = last + 1


def _group_end(tokens: Sequence[Token], i: int) -> int:
    """The last digit token joined to ``tokens[i]`` by spaces, dashes, brackets or an extension word."""
    last = i
    k = i + 1
    while k < len(tokens) and "\n" not in tokens[k].gap and tokens[last].trail in ("", ")", "-"):
        if tokens[k].has_digit and re.fullmatch(r"[\s().\-/]*", tokens[k].gap):
            last = k
        elif tokens[k].core.lower() in _CONNECTORS and k + 1 < len(tokens) and tokens[k + 1].has_digit:
            last = k = k + 1
        else:
            break
        k += 1
    return last


def _safe_number(tokens: Sequence[Token], i: int, personal: bool, vocabulary: Vocabulary) -> bool:
    core = tokens[i].core
    nxt = tokens[i + 1].core.lower() if i + 1 < len(tokens) and "\n" not in tokens[i + 1].gap else ""
    prev = tokens[i - 1] if i else None
    if vocabulary.is_safe_token(core) or (_CLOCK.fullmatch(core) and not core.isdigit()):
        return True
    if _YEAR.fullmatch(core):  # a year alone: not after a name or a code ("NSW 2000" is a postcode)
        return prev is None or not (prev.capitalised or prev.has_digit) or prev.sentence_start
    if _QUANTITY.fullmatch(core) and not re.fullmatch(r"\d+[.,]\d+[.,]\d+", core) and not _coded(core):
        return True  # a number with its unit (a range too), money
    if nxt in _UNIT_WORDS or (_ORDINAL.fullmatch(core) and not personal):
        return True
    if len(_digits(core)) <= 4 and re.fullmatch(r"\d+(?:[.,]\d+)?", core) and _counts(nxt, tokens, i):
        return True  # "12 pumps", "3.5 tonnes": a count of things
    return not personal and _SMALL.fullmatch(core) is not None


def _coded(core: str) -> bool:
    """Is a number with a "unit" a code ("4471A", "0000A/A", "20394K") rather than a quantity ("12V", "5A")?"""
    m = re.fullmatch(r"[^\d]*(\d+)(?:[.,-]\d+)*(.*)", core)
    if m is None:
        return False
    if re.match(r"0\d", m.group(1)):
        return True  # a leading zero: a code, never a measured amount
    digits, segments = len(_digits(core)), m.group(2).split("/")
    return digits > 6 or (digits > 3 and any(len(seg) == 1 and seg.isalpha() for seg in segments))


def _counts(nxt: str, tokens: Sequence[Token], i: int) -> bool:
    """Is the word after a number a plural noun it counts ("pumps", "alarms"), not a function word?"""
    plural = len(nxt) > 3 and nxt.isalpha() and nxt.endswith("s")
    return plural and not tokens[i].trail and word_rank(nxt, "en") is not None


def _number_type(tokens: Sequence[Token], i: int, last: int) -> str:
    value = " ".join(t.core for t in tokens[i : last + 1])
    for kind, shape in _SHAPES:
        if shape.fullmatch(value):
            return kind
    return "IDENTIFIER" if len(_digits(value)) > 3 or re.search(r"[A-Za-z]", value) else "NUMBER"


def _digits(value: str) -> str:
    return re.sub(r"\D", "", value)
