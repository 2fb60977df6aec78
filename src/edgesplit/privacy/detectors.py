"""PII detection on the edge: validated patterns for structured identifiers, spaCy NER for names.

Structured identifiers are found by pattern and then *validated* (``privacy/validators.py``:
Luhn for cards, mod-97 for IBAN, check digits for CPF/CNPJ, area/group rules for US SSN,
``ipaddress`` for IPs, ``phonenumbers`` for phone numbers), which keeps false positives down. A number laid out
like a phone number (10 to 15 digits in groups, an extension or an international prefix) that
``phonenumbers`` finds possible but not assigned is still taken for one, ranked below the
validated detectors. Dates follow a date policy (``privacy/dates.py``), labelled identifiers
(medical records, serials) and street addresses come from ``privacy/identifiers.py``. Names,
places and organisations come from the offline spaCy model with only its NER running;
Portuguese and English cue phrases ("my name is", "meu nome é", "Sra.") catch names the English
model misses in Portuguese text; well-known places come from a gazetteer (``privacy/gazetteer.py``)
where NER runs. Deny-list terms and custom regexes come from config.

**Context rule.** A place or an organisation that NER finds is personal data only in a text
about a person: one that also holds a personal identifier, or a cue such as "I live in",
"my address", "patient", "moro em". "What is the capital of France?" keeps France; "Patient
John Smith, from Leeds" redacts Leeds. ``context_types`` (config ``privacy_context_types``)
lists the types the rule applies to; empty means always redact. Street addresses are always
redacted. Overlaps resolve to the validated detector first, then the longer span.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from edgesplit.privacy.dates import DatePolicy, FoundDate, find_dates, redacts
from edgesplit.privacy.gazetteer import find_places
from edgesplit.privacy.identifiers import DEFAULT_IDENTIFIERS, compile_identifiers, find_addresses
from edgesplit.privacy.name_shapes import find_name_shapes
from edgesplit.privacy.ner import NER_TYPES, NerModel, NerSpan
from edgesplit.privacy.phrases import word_alternation
from edgesplit.privacy.strict import PERSON_CUES, StrictScanner
from edgesplit.privacy.validators import (
    PHONE_EXTENSION,
    card_valid,
    cnpj_valid,
    cpf_valid,
    iban_valid,
    ip_valid,
    luhn_valid,
    phone_source,
    ssn_valid,
)
from edgesplit.privacy.vocabulary import DEFAULT_SAFE_TOKENS, PrivacyMode, Vocabulary, guess_language

if TYPE_CHECKING:
    from edgesplit.config import Settings


__all__ = [
    "DEFAULT_SAFE_TOKENS",
    "ENTITY_TYPES",
    "NER_TYPES",
    "Detector",
    "Entity",
    "PrivacyMode",
    "cnpj_valid",
    "cpf_valid",
    "iban_valid",
    "luhn_valid",
]

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
    "CASE_NUMBER",
    "DEVICE_SERIAL",
    "CUSTOM",
    # strict mode's types for what no format rule named (privacy/strict.py)
    "POSTCODE",
    "IDENTIFIER",
    "NUMBER",
    "PROPER_NOUN",
)
# Entities that tie a text to a person (the context for dates, places and organisations).
_PERSONAL = frozenset(ENTITY_TYPES) - {"LOCATION", "ORGANIZATION", "DATE", "CUSTOM", "NUMBER", "PROPER_NOUN"}
_NER_SOURCES = frozenset({"ner", "name", "mention"})

# Validated detectors outrank NER and cue phrases when spans overlap.
# Configured detectors (a labelled identifier, a custom pattern) are explicit and outrank the rest:
# "MRN 2125550143" is a record number, whatever phonenumbers says.
_RANK = {"config": 4, "pattern": 3, "shape": 2, "cue": 1, "ner": 0, "place": 0, "name": 0, "mention": -1, "strict": -2}


@dataclass(frozen=True)
class Entity:
    """A detected span: ``text[start:end]`` is the value."""

    type: str
    start: int
    end: int
    value: str
    # pattern | shape | config | cue | ner | place | name (a name's shape) | mention (another occurrence of a
    # name) | strict (not vouched for: privacy/strict.py)
    source: str


# (type, regex, validator, group, gate): group is the capture that holds the value (0 = whole match);
# the pattern only runs on a text that the gate matches (None: a digit; or "@", or two colons),
# which keeps the cheap detectors cheap on the everyday text that carries none. A leading (?=\d)
# lets ``re`` reject a position before it tries the lookbehind (2-3x faster, same matches).
_DIGIT = re.compile(r"\d")
_PATTERNS: list[tuple[str, re.Pattern[str], Callable[[str], bool] | None, int, re.Pattern[str] | None]] = [
    ("EMAIL_ADDRESS", re.compile(r"\b[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}\b"), None, 0, re.compile("@")),
    ("BR_CNPJ", re.compile(r"(?=\d)(?:(?<!\d)\d{2}\.?\d{3}\.?\d{3}/?\d{4}-?\d{2}(?!\d))"), cnpj_valid, 0, None),
    (
        "BR_CPF",
        re.compile(r"(?=\d)(?:(?<![\d.])\d{3}\.\d{3}\.\d{3}-\d{2}(?![\d])|(?<!\d)\d{11}(?!\d))"),
        cpf_valid,
        0,
        _DIGIT,
    ),
    ("US_SSN", re.compile(r"(?=\d)(?:(?<![\d-])\d{3}([- ])\d{2}\1\d{4}(?![\d-]))"), ssn_valid, 0, None),
    ("CREDIT_CARD", re.compile(r"(?=\d)(?:(?<![\d-])(?:\d[ -]?){12,18}\d(?![\d-]))"), card_valid, 0, None),
    ("IBAN", re.compile(r"\b[A-Z]{2}\d{2}(?: ?[A-Z0-9]{4}){2,7}(?: ?[A-Z0-9]{1,4})?\b"), iban_valid, 0, None),
    ("IP_ADDRESS", re.compile(r"(?=\d)(?:(?<![\d.])(?:\d{1,3}\.){3}\d{1,3}(?!\.?\d))"), ip_valid, 0, None),
    (
        "IP_ADDRESS",
        re.compile(r"(?<![\w:])(?:[0-9a-fA-F]{0,4}:){2,7}[0-9a-fA-F]{1,4}\b"),
        ip_valid,
        0,
        re.compile(r":[0-9a-fA-F]{0,4}:"),
    ),
]

# A capitalised name of up to four words, with particles (da, van) and middle initials (John Q. Public).
_NAME = r"([A-ZÀ-Ý][a-zà-ÿ]+(?: (?:(?:da|de|do|dos|das|van|von|e) )?(?:[A-Z]\.|[A-ZÀ-Ý][a-zà-ÿ]+)){0,3})"
# Phrases and roles that a person's name follows (English and Portuguese).
_CUE_PHRASES = (
    "my name is", "i am", "i'm", "this is", "meu nome é", "me chamo", "chamo-me", "sou (?:o|a)", "em nome de",
    "in the name of", "patient", "paciente", "technician", "engineer", "técnic[oa]", "engenheir[oa]", "cardholder",
    "account holder", "titular", "contact", "contato", "responsável", "solicitante", "requester", "reported by",
    "opened by", "signed by", "assinado por", "aberto por", "aberta por", "relatado por", "informado por",
    "dear", "prezad[oa]", "car[oa]", "customer", "client", "cliente", "mechanic", "mecânic[oa]", "driver",
    "motorista", "nurse", "enfermeir[oa]", "my (?:son|daughter|wife|husband|mother|father|brother|sister)",
    "meu (?:filho|marido|pai|irmão)", "minha (?:filha|esposa|mulher|mãe|irmã)",
)  # fmt: skip
_TITLES = ("Mr", "Mrs", "Ms", "Dr", "Dra", "Sr", "Sra", "Srta", "Prof")
_CUES = re.compile(
    rf"(?i:{word_alternation(_CUE_PHRASES)}[:,]?\s+|{word_alternation(_TITLES)}\.?\s+)"
    + _NAME  # the name itself must be capitalised
)
# Labels of identifiers that the small English model likes to call organisations.
_PHONE_CANDIDATE = re.compile(
    rf"(?=[+(\d])(?<![\w+/.-])(?:\+|0xx)?\(?\d[\d\s().-]{{6,20}}\d(?:{PHONE_EXTENSION})?(?![\w/-]|\.\d)", re.IGNORECASE
)
_LIVES = "(?:live|lived|moved|work|stay)"
_PERSONAL_CUE = re.compile(
    "(?i:"
    + word_alternation([
        f"i {_LIVES}", f"we {_LIVES}", "my (?:address|home|house|town|city|office|street)", "lives? (?:in|at|on)",
        "resident", "address", "patient", "customer", "client", "employee", "technician", "mor[oa] (?:em|no|na)",
        "endereço", "paciente", "cliente", "resid[eê]n", "funcionári", "técnic",
    ])
    + ")"
)  # fmt: skip


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
        mode: PrivacyMode = "standard",
        public_entities: Iterable[str] = (),
        safe_tokens: Iterable[str] = DEFAULT_SAFE_TOKENS,
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
        self.mode: PrivacyMode = mode
        self._strict = StrictScanner(Vocabulary(public_entities, safe_tokens))
        self._ner = NerModel() if ner and mode == "standard" else None

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
            mode=settings.privacy_mode or "standard",
            public_entities=settings.privacy_public_entities,
            safe_tokens=settings.privacy_safe_tokens,
        )

    @property
    def has_ner(self) -> bool:
        """Does the full detection (``ner=True``) cost more than the cheap detectors: NER, or strict's scan?"""
        return self._ner is not None or self.mode == "strict"

    def detect(self, text: str, ner: bool = True) -> list[Entity]:
        """All entities in ``text``, non-overlapping, in order; ``ner=False`` runs only the cheap detectors."""
        return self.detect_many([text], ner)[0]

    def detect_many(self, texts: Sequence[str], ner: bool = True) -> list[list[Entity]]:
        """:meth:`detect` for each text; NER runs on them as one batch (``nlp.pipe``: about half the cost).

        The cheap detectors run first. A word they already cover (a name after a cue, a street, a
        month in a date) is not a reason for NER to read its window: every other detector
        outranks NER, so an entity NER found there would lose the overlap anyway."""
        cheap = [self._cheap(text) for text in texts]
        if self.mode == "strict":
            if not ner:
                return [self._entities(text, *c, None) for text, c in zip(texts, cheap, strict=True)]
            return [self._strict_entities(text, *c) for text, c in zip(texts, cheap, strict=True)]
        names: Sequence[Sequence[NerSpan] | None] = [None] * len(texts)
        if ner and self._ner is not None:
            taken = [[(e.start, e.end) for e in found] + [(d.start, d.end) for d in dates] for found, dates in cheap]
            names = self._ner.entities_many(texts, taken)
        return [self._entities(text, *c, spans) for text, c, spans in zip(texts, cheap, names, strict=True)]

    def _cheap(self, text: str) -> tuple[list[Entity], list[FoundDate]]:
        """What the pattern, label, cue and phone detectors find, and the dates in ``text``."""
        digits = _DIGIT.search(text) is not None  # every number-shaped detector needs one
        found = [*self._patterns(text, digits), *self._configured(text), *self._cues(text)]
        if digits:
            found.extend(self._phones(text, found))
        return found, list(find_dates(text)) if digits else []

    def _entities(
        self, text: str, found: list[Entity], dates: list[FoundDate], names: Sequence[NerSpan] | None
    ) -> list[Entity]:
        shapes: list[Entity] = []
        if names is not None:  # NER ran: names, places and organisations, well-known places, names by shape
            found = [*found, *self._not_public(text, [Entity(n.type, n.start, n.end, n.value, "ner") for n in names])]
            found += [Entity("LOCATION", start, end, text[start:end], "place") for start, end in find_places(text)]
            shapes = [Entity("PERSON", start, end, text[start:end], "name") for start, end in find_name_shapes(text)]
        context = [e for e in found if e.source in ("ner", "place") and e.type in self.context_types]
        personal = bool(dates or context or shapes) and _is_personal(found, text)  # only these depend on it
        found.extend(self._dates(text, dates, personal))
        if context and not personal:
            found = [e for e in found if e not in context]
        if personal:
            found.extend(self._not_public(text, shapes))
        return _resolve([*found, *_other_mentions(found, text)])

    def _strict_entities(self, text: str, found: list[Entity], dates: list[FoundDate]) -> list[Entity]:
        """Strict mode: the cheap detectors' finds, joined with every span no list vouches for."""
        spans = self._strict.scan(text, _is_personal(found, text))
        personal = _is_personal(found, text) or any(s.personal for s in spans)
        found = [*found, *self._dates(text, dates, personal)]
        found += [Entity(s.type, s.start, s.end, text[s.start : s.end], "strict") for s in spans]
        return _union(found, text)

    def _not_public(self, text: str, found: list[Entity]) -> list[Entity]:
        """NER's finds without those the vocabulary vouches for: an abbreviation ("JSON", "COPD"), everyday
        words, a public person or company the sentence does not make personal (places: the context rule)."""
        if not found:
            return found
        lang = guess_language(text)
        return [e for e in found if not self._vouched(text, e, lang)]

    def _vouched(self, text: str, entity: Entity, lang: str) -> bool:
        before = text[max(0, entity.start - 16) : entity.start].lower().split()
        if before and before[-1].strip(".,:") in PERSON_CUES:
            return False
        public = self._strict.vocabulary.is_public(entity.value)
        if public:
            return entity.type != "LOCATION"
        return self._strict.vouched(entity.value, lang)

    def _patterns(self, text: str, digits: bool) -> Iterable[Entity]:
        for kind, pattern, valid, group, gate in _PATTERNS:
            if not digits if gate is None else gate.search(text) is None:
                continue
            for m in pattern.finditer(text):
                value = m.group(group)
                if valid is None or valid(value):
                    yield Entity(kind, m.start(group), m.end(group), value, "pattern")
        for start, end in find_addresses(text):
            yield Entity("LOCATION", start, end, text[start:end], "pattern")

    def _phones(self, text: str, found: Sequence[Entity]) -> Iterable[Entity]:
        """Cheap candidate regex first; ``phonenumbers`` validates each candidate per region.

        A candidate inside a span that an equal or higher-ranked detector already took (a card, an
        SSN, a record number) would lose the overlap anyway, so it is not parsed."""
        taken = [(e.start, e.end) for e in found if _RANK[e.source] >= _RANK["pattern"]]
        for m in _PHONE_CANDIDATE.finditer(text):
            if any(start <= m.start() and m.end() <= end for start, end in taken):
                continue
            source = phone_source(m.group(0), self.phone_regions)
            if source is not None:
                yield Entity("PHONE_NUMBER", m.start(), m.end(), m.group(0), source)

    def _dates(self, text: str, dates: Iterable[FoundDate], personal: bool) -> Iterable[Entity]:
        for date in dates:
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


def _other_mentions(found: Sequence[Entity], text: str) -> Iterator[Entity]:
    """Every other mention of a name found once: NER may tag "Elon Musk" in one sentence and not the next."""
    names = {e.value: e.type for e in found if e.source in ("ner", "cue", "name") and len(e.value) > 2}
    for value, kind in names.items():
        start = text.find(value)
        while start >= 0:  # str.find, not a regex per name: names differ per text, and compiling costs more
            end = start + len(value)
            if not (start and _word_char(text[start - 1])) and not (end < len(text) and _word_char(text[end])):
                yield Entity(kind, start, end, value, "mention")
            start = text.find(value, end)


def _word_char(ch: str) -> bool:
    return ch.isalnum() or ch == "_"


def _is_personal(found: Iterable[Entity], text: str) -> bool:
    """Is ``text`` about a person: a personal identifier, a street address, or a personal cue?"""
    if any(e.type in _PERSONAL or (e.type == "LOCATION" and e.source == "pattern") for e in found):
        return True
    return bool(_PERSONAL_CUE.search(text))


def _union(found: list[Entity], text: str) -> list[Entity]:
    """Overlapping spans become one, typed by its best-ranked part: strict mode redacts every character
    any detector found, so "Hardy-Jones" is one placeholder where NER found "Hardy"."""
    groups: list[list[Entity]] = []
    for entity in sorted(found, key=lambda e: (e.start, -e.end)):
        if groups and entity.start < max(e.end for e in groups[-1]):
            groups[-1].append(entity)
        else:
            groups.append([entity])
    joined = []
    for group in groups:
        best = max(group, key=lambda e: (_RANK[e.source], e.end - e.start))
        start, end = group[0].start, max(e.end for e in group)
        joined.append(Entity(best.type, start, end, text[start:end], best.source))
    return joined


def _resolve(found: list[Entity]) -> list[Entity]:
    """Keep the best of overlapping spans: validated before NER, then the longer one."""
    ranked = sorted(found, key=lambda e: (-_RANK[e.source], -(e.end - e.start), e.start))
    kept: list[Entity] = []
    for entity in ranked:
        if all(entity.end <= k.start or entity.start >= k.end for k in kept):
            kept.append(entity)
    return sorted(kept, key=lambda e: e.start)
