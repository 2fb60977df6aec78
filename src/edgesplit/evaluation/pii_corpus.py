"""Labelled PII corpora for the detectors: the one they were tuned on, and one they never saw.

A message is text plus the span and type of every personal value in it. Both corpora are
generated with Faker from fixed seeds, so a run is reproducible.

- :func:`tuning_corpus` (seed 1234): the templates and generators the detectors were developed
  against (chat lines, tickets, medical notes, payments; English and Portuguese).
- :func:`unseen_corpus`: kept apart on purpose. Other templates (clinical notes, maintenance
  work orders, billing and HR messages, general questions with no personal data), other
  locales (en_US, en_GB, pt_BR), Faker's own phone formats (extensions, international
  prefixes), dates of visits, reports and labs as well as births, identifiers written the way
  sites write them, street addresses. Its templates must not be used to tune a detector; when
  a detector changes because of a miss here, the change is for a documented format, and a
  property test (tests/test_detectors_properties.py) pins that format.

- :func:`holdout_corpus`: templates written after the detectors' last change for the unseen
  corpus (whose misses were read once, to pick the street-type lists and role cues), measured
  once: insurance claims, pharmacy, logistics, field service, HR. Its misses were then read (the
  gazetteer and the everyday-word rule of ``privacy/ner.py`` and the claim label came from them),
  so it is no longer blind.
- :func:`blind_corpus`: templates written after those changes, before any detector ran on them:
  telehealth, utility billing, aircraft maintenance, payroll, school and vaccination messages,
  and general questions that name public places, people and companies. Measured once (overall
  P/R 0.94/0.93, 23 of 416 values leaked); its misses were then read, and the cues, the
  "Hospital No" label, the street fix and the everyday-words rule came from them. Read again on
  2026-12-04, with the misses left then: the name-shape rule (``privacy/name_shapes.py``) and the
  NER clean-ups (a name's capitalised part, no digits, no heading before a colon) came from them.
- :func:`field_corpus`: templates written after that, before any detector ran on them: veterinary,
  dental, lending, courts, fleet telematics, hotels, council tax, NHS 111, customs, gyms, and
  questions naming public places, people and companies; a city beside some addresses. Measured
  once (overall P/R 0.90/0.88, structured recall 0.90, 23 of 386 values leaked); its misses were
  then read, and the docket, processo, reference and chart labels, the town after an address,
  and the rule for an everyday word opening a sentence came from them.
- :func:`intake_corpus`: templates written after that, before any detector ran on them: intake
  forms one field per line, signature blocks, lowercase chat, lost luggage, tenancy, job
  applications, ambulance dispatch, returns, care homes, water bills, admissions, broadband.

Label types are the detector's entity types; ``DATE`` is any date tied to a person that is not
a birth date (HIPAA Safe Harbor treats every such date element as an identifier).
"""

from __future__ import annotations

import datetime as dt
import random
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from edgesplit.evaluation.pii_templates import (
    BLIND_TEMPLATES,
    EN,
    FIELD_TEMPLATES,
    HOLDOUT_TEMPLATES,
    INTAKE_TEMPLATES,
    PT,
    UNSEEN_TEMPLATES,
)

__all__ = [
    "Message",
    "Span",
    "blind_corpus",
    "field_corpus",
    "fill",
    "holdout_corpus",
    "intake_corpus",
    "tuning_corpus",
    "unseen_corpus",
]

_SLOT = re.compile(r"\{([A-Z_0-9]+)\}")
# Slot names that carry a format variant but label the same type.
_LABEL = {"DOB_PLAIN": "DATE_OF_BIRTH", "ADDRESS": "LOCATION", "CITY": "LOCATION", "PERSON2": "PERSON", "DATE2": "DATE"}


@dataclass(frozen=True)
class Span:
    type: str
    start: int
    end: int


@dataclass
class Message:
    text: str
    labels: list[Span]
    lang: str


def _tuning_values(rng: random.Random) -> dict[str, dict[str, Callable[[], str]]]:
    from faker import Faker

    en, pt, gb = Faker("en_US"), Faker("pt_BR"), Faker("en_GB")
    for fake in (en, pt, gb):
        fake.seed_instance(rng.randrange(1 << 30))

    def card() -> str:
        number = en.credit_card_number(card_type=rng.choice(["visa16", "mastercard", "amex"]))
        if rng.random() < 0.5 and len(number) == 16:
            return " ".join(number[i : i + 4] for i in range(0, 16, 4))
        return number

    def iban(fake: Faker) -> str:
        raw = fake.iban()
        return " ".join(raw[i : i + 4] for i in range(0, len(raw), 4)) if rng.random() < 0.5 else raw

    us_area = [201, 212, 305, 312, 415, 503, 512, 617, 702, 919]
    br_ddd = [11, 21, 31, 41, 51, 61, 71, 81]
    common = {
        "EMAIL_ADDRESS": lambda: en.email(),
        "CREDIT_CARD": card,
        "IP_ADDRESS": lambda: en.ipv4_public() if rng.random() < 0.7 else en.ipv4_private(),
        "MEDICAL_RECORD": lambda: f"{rng.randrange(10**7, 10**8)}",
        "US_SSN": lambda: en.ssn(),
    }
    return {
        "en": {
            **common,
            "PERSON": lambda: f"{en.first_name()} {en.last_name()}",
            "PHONE_NUMBER": lambda: f"({rng.choice(us_area)}) {rng.randrange(200, 999)}-{rng.randrange(1000, 9999)}",
            "IBAN": lambda: iban(gb),
            "LOCATION": lambda: en.city(),
            "DATE_OF_BIRTH": lambda: en.date_of_birth(minimum_age=18, maximum_age=90).strftime("%m/%d/%Y"),
        },
        "pt": {
            **common,
            "PERSON": lambda: f"{pt.first_name()} {pt.last_name()}",
            "PHONE_NUMBER": lambda: (
                f"+55 {rng.choice(br_ddd)} 9{rng.randrange(1000, 9999)}-{rng.randrange(1000, 9999)}"
            ),
            "IBAN": lambda: iban(pt),
            "BR_CPF": lambda: pt.cpf(),
            "BR_CNPJ": lambda: pt.cnpj(),
            "LOCATION": lambda: pt.city(),
            "DATE_OF_BIRTH": lambda: pt.date_of_birth(minimum_age=18, maximum_age=90).strftime("%d/%m/%Y"),
        },
    }


def tuning_corpus(n: int = 300, seed: int = 1234) -> list[Message]:
    """The corpus the detectors were tuned on (seed 1234): English and Portuguese, alternating."""
    rng = random.Random(seed)
    values = _tuning_values(rng)
    corpus = []
    for i in range(n):
        lang = "en" if i % 2 == 0 else "pt"
        template = rng.choice(EN if lang == "en" else PT)
        corpus.append(fill(template, values[lang], lang))
    return corpus


def fill(template: str, values: dict[str, Callable[[], str]], lang: str) -> Message:
    """A message from a template: each {TYPE} slot gets a generated value and a label over its span."""
    text, labels, last = "", [], 0
    for m in _SLOT.finditer(template):
        text += template[last : m.start()]
        value = values[m.group(1)]()
        labels.append(Span(_LABEL.get(m.group(1), m.group(1)), len(text), len(text) + len(value)))
        text += value
        last = m.end()
    return Message(text + template[last:], labels, lang)


_MONTHS_PT = ("janeiro", "fevereiro", "março", "abril", "maio", "junho", "julho", "agosto", "setembro",
              "outubro", "novembro", "dezembro")  # fmt: skip


DateFormat = Callable[[dt.date], str]


def _date_formats(locale: str) -> list[DateFormat]:
    """How people in each locale write a date."""

    def f(fmt: str) -> DateFormat:
        return lambda d: d.strftime(fmt)

    def unpadded(d: dt.date) -> str:
        return f"{d.month}/{d.day}/{d.year}"

    def ordinal(d: dt.date) -> str:
        suffix = "th" if 11 <= d.day % 100 <= 13 else {1: "st", 2: "nd", 3: "rd"}.get(d.day % 10, "th")
        return f"{d.day}{suffix} {d.strftime('%B %Y')}"

    def portuguese(d: dt.date) -> str:
        return f"{d.day} de {_MONTHS_PT[d.month - 1]} de {d.year}"

    if locale == "en_US":
        us = ["%m/%d/%Y", "%B %d, %Y", "%b %d, %Y", "%Y-%m-%d", "%m/%d/%y", "%b. %d", "%B %d"]
        return [*map(f, us), unpadded]
    if locale == "en_GB":
        return [*map(f, ["%d/%m/%Y", "%d %B %Y", "%d %b %Y", "%d.%m.%Y"]), ordinal]
    return [*map(f, ["%d/%m/%Y", "%d/%m/%y", "%d.%m.%Y", "%Y-%m-%d"]), portuguese]


def _unseen_values(locale: str, rng: random.Random) -> dict[str, Callable[[], str]]:
    from faker import Faker

    fake = Faker(locale)
    fake.seed_instance(rng.randrange(1 << 30))
    us = Faker("en_US")
    us.seed_instance(rng.randrange(1 << 30))
    dates = _date_formats(locale)

    def date(**span: str) -> Callable[[], str]:
        return lambda: rng.choice(dates)(fake.date_between(**span))

    def mrn() -> str:
        number = str(rng.randrange(10**5, 10**10))
        return rng.choice([number, number, f"HSP-{number}", f"A{number}"])

    def person() -> str:
        middle = f" {rng.choice('ABCDEFGHJKLMNPRSTW')}." if locale == "en_US" and rng.random() < 0.2 else ""
        return f"{fake.first_name()}{middle} {fake.last_name()}"

    values: dict[str, Callable[[], str]] = {
        "PERSON": person,
        "PERSON2": person,
        "EMAIL_ADDRESS": lambda: rng.choice([fake.email, fake.company_email, fake.free_email])(),
        "PHONE_NUMBER": lambda: _phone(locale, fake, rng),
        "DATE": date(start_date="-3y", end_date="today"),
        "DATE2": date(start_date="-3y", end_date="today"),
        "DOB_PLAIN": date(start_date="-90y", end_date="-18y"),
        "NONPERSONAL_DATE": date(start_date="-2y", end_date="today"),
        "MEDICAL_RECORD": mrn,
        "CASE_NUMBER": mrn,
        "ADDRESS": lambda: fake.street_address(),
        "CITY": lambda: fake.city(),
        "IP_ADDRESS": lambda: rng.choice([fake.ipv4_public, fake.ipv4_private, fake.ipv6])(),
        "CREDIT_CARD": lambda: _card(us, rng),
        "US_SSN": lambda: rng.choice([us.ssn(), us.ssn().replace("-", " ")]),
        "IBAN": lambda: fake.iban(),
    }
    if locale == "pt_BR":
        values["BR_CPF"] = lambda: rng.choice([fake.cpf(), fake.cpf().replace(".", "").replace("-", "")])
        values["BR_CNPJ"] = lambda: fake.cnpj()
    return values


def _phone(locale: str, fake: Any, rng: random.Random) -> str:
    """Faker's own phone formats for the locale, or a business format with an extension or prefix."""
    if rng.random() < 0.5:
        return str(fake.phone_number())
    line = f"{rng.randrange(200, 999)}-{rng.randrange(1000, 9999)}"
    area = rng.choice([212, 305, 312, 415, 617, 702, 919])
    formats = {
        "en_US": [f"+1 ({area}) {line} ext. {rng.randrange(10, 9999)}", f"({area}) {line} x{rng.randrange(10, 999)}",
                  f"1-{area}-{line}", f"+1.{area}.{line.replace('-', '.')}",
                  f"011 44 20 7946 {rng.randrange(1000, 9999)}"],
        "en_GB": [f"+44 (0)20 7946 {rng.randrange(1000, 9999)}", f"020 7946 {rng.randrange(1000, 9999)}",
                  f"07700 900{rng.randrange(100, 999)}", f"00 44 161 496 {rng.randrange(1000, 9999)}",
                  f"01632 960{rng.randrange(100, 999)} ext 12"],
        "pt_BR": [f"(11) 9{rng.randrange(1000, 9999)}-{rng.randrange(1000, 9999)}",
                  f"+55 (21) 3{rng.randrange(100, 999)}-{rng.randrange(1000, 9999)}",
                  f"0xx11 9{rng.randrange(1000, 9999)}-{rng.randrange(1000, 9999)}",
                  f"(31) 3{rng.randrange(100, 999)}-{rng.randrange(1000, 9999)} ramal {rng.randrange(10, 999)}"],
    }  # fmt: skip
    return rng.choice(formats[locale])


def _card(fake: Any, rng: random.Random) -> str:
    number = str(fake.credit_card_number(card_type=rng.choice(["visa16", "mastercard", "amex", "discover"])))
    if len(number) == 16 and rng.random() < 0.5:
        return "-".join(number[i : i + 4] for i in range(0, 16, 4))
    return number


def unseen_corpus(n: int = 300, seed: int = 2026) -> list[Message]:
    """Messages from templates, generators and locales the detectors were not tuned on."""
    return _from_templates(UNSEEN_TEMPLATES, n, seed)


def _from_templates(templates: dict[str, list[str]], n: int, seed: int) -> list[Message]:
    """``n`` messages, locales in turn, each from a random template of its locale."""
    rng = random.Random(seed)
    locales = list(templates)
    values = {locale: _unseen_values(locale, rng) for locale in locales}
    corpus = []
    for i in range(n):
        locale = locales[i % len(locales)]
        message = fill(rng.choice(templates[locale]), values[locale], locale)
        labels = [s for s in message.labels if s.type != "NONPERSONAL_DATE"]  # a date tied to no one
        corpus.append(Message(message.text, labels, locale))
    return corpus


def holdout_corpus(n: int = 150, seed: int = 31337) -> list[Message]:
    """Messages from templates written after the detectors' last change (see the module docstring)."""
    return _from_templates(HOLDOUT_TEMPLATES, n, seed)


def blind_corpus(n: int = 150, seed: int = 4242) -> list[Message]:
    """Messages from templates written after the holdout's misses were read (see the module docstring)."""
    return _from_templates(BLIND_TEMPLATES, n, seed)


def field_corpus(n: int = 150, seed: int = 9091) -> list[Message]:
    """Messages from templates written after the blind corpus's misses were read (see the module docstring)."""
    return _from_templates(FIELD_TEMPLATES, n, seed)


def intake_corpus(n: int = 150, seed: int = 5150) -> list[Message]:
    """Messages from templates written after the field corpus's misses were read (see the module docstring)."""
    return _from_templates(INTAKE_TEMPLATES, n, seed)
