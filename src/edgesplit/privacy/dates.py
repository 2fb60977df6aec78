"""Dates, as clinical privacy rules see them: every date element tied to a person, except a bare year.

HIPAA's Safe Harbor method lists all elements of dates (except the year) directly related to an
individual as identifiers: birth, admission, discharge, visit, report and death dates alike.
:func:`find_dates` finds dates in the forms people write them (``03/14/1962``, ``14.03.1962``,
``1962-03-14``, ``March 14, 1962``, ``Mar. 14``, ``14th March 1962``, ``14 de março de 1962``,
``March 1962``) and says which kind each is from the words just before it:

- ``birth``: after a birth cue ("born", "DOB", "birthdate", "data de nascimento", "nasc.");
- ``event``: after a cue of something that happened to someone ("admitted", "seen on",
  "appointment", "lab", "report dated", "internado", "alta", "consulta", "laudo");
- ``other``: any other date.

:class:`DatePolicy` says which are redacted: ``birth`` (birth dates only), ``personal`` (the
default: birth and event dates, and any date in a text that also names or identifies a person),
``all`` (every date: the clinical preset). A bare year is never a date here.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Literal

__all__ = ["DATE_POLICIES", "DateKind", "DatePolicy", "FoundDate", "find_dates", "redacts"]

DateKind = Literal["birth", "event", "other"]
DatePolicy = Literal["birth", "personal", "all"]
DATE_POLICIES: tuple[DatePolicy, ...] = ("birth", "personal", "all")

_EN_MONTHS = (
    "January|February|March|April|May|June|July|August|September|October|November|December"
    "|Jan|Feb|Mar|Apr|Jun|Jul|Aug|Sept|Sep|Oct|Nov|Dec"
)
_PT_MONTHS = (
    "janeiro|fevereiro|março|marco|abril|maio|junho|julho|agosto|setembro|outubro|novembro|dezembro"
    "|jan|fev|mar|abr|mai|jun|jul|ago|set|out|nov|dez"
)
_DAY = r"(?:3[01]|[12]\d|0?[1-9])(?:st|nd|rd|th|º)?"
_YEAR = r"(?:1[89]|20)\d\d"
_EN_MONTH = rf"(?:{_EN_MONTHS})\.?"  # English month names are capitalised: "may" is a verb
_PT_MONTH = rf"(?i:{_PT_MONTHS})\.?"

_MONTH_START = "(?=[" + "".join(sorted({m[0] for m in f"{_EN_MONTHS}|{_PT_MONTHS}".split("|")} | set("JFMASOND")))
_MONTH_START += "])"
# Each form starts with a lookahead on its first character: ``re`` then skips most positions at once.
_FORMS = [
    # numeric: 03/14/1962, 14.03.62, 1962-03-14 (not a version number, not part of an IP address)
    r"(?=\d)(?<![\w/.-])(?:\d{1,2}[/.-]\d{1,2}[/.-](?:\d{4}|\d{2})|\d{4}-\d{1,2}-\d{1,2})(?![\w/-]|\.\d)",
    # 14 March 1962, 14th Mar 1962, 14 de março de 1962, 14/mar/1962
    rf"(?=\d)\b{_DAY}(?: de |\s|/|-)(?:{_EN_MONTH}|{_PT_MONTH})(?:,?(?: de |\s|/|-){_YEAR})?(?!\w)",
    # March 14, 1962, Mar. 14, March 14th
    rf"{_MONTH_START}\b{_EN_MONTH} {_DAY}(?:,? {_YEAR})?(?!\w)",
    # March 1962, março de 1962
    rf"{_MONTH_START}\b(?:{_EN_MONTH}|{_PT_MONTH})(?: de |,? ){_YEAR}\b",
]
_DATE = re.compile("|".join(f"(?:{form})" for form in _FORMS))

_BIRTH = re.compile(
    r"(?i:\b(?:born|birth\s?date|date of birth|d\.?o\.?b\.?|birthday|b\.|nascid[oa]|nascimento|nasc\.?"
    r"|data de nasc\w*|aniversário))[^.;\n\d]{0,20}$"
)
_EVENT = re.compile(
    r"(?i:\b(?:admitted|admission|discharged?|seen|visit(?:ed)?|appointment|follow-up|referred|exam(?:ined)?"
    r"|lab|drawn|collected|report(?:ed)?|dated|surgery|procedure|scan(?:ned)?|operated|died|death|deceased"
    r"|treated|diagnosed|attended|internad[oa]|internação|alta|consulta|exame|laudo|realizad[oa]|coletad[oa]"
    r"|cirurgia|atendid[oa]|óbito|falecid[oa]|retorno|marcad[oa]))\b[^.;\n\d]{0,25}$"
)


@dataclass(frozen=True)
class FoundDate:
    start: int
    end: int
    kind: DateKind


def find_dates(text: str) -> Iterator[FoundDate]:
    """Every date in ``text`` with its kind, in order."""
    for m in _DATE.finditer(text):
        if not _plausible(m.group(0)):
            continue
        before = text[max(0, m.start() - 40) : m.start()]
        kind: DateKind = "birth" if _BIRTH.search(before) else "event" if _EVENT.search(before) else "other"
        yield FoundDate(m.start(), m.end(), kind)


def redacts(policy: DatePolicy, kind: DateKind, personal_text: bool) -> bool:
    """Does ``policy`` redact a date of ``kind`` in a text that does (or does not) identify a person?"""
    if kind == "birth" or policy == "all":
        return True
    return policy == "personal" and (kind == "event" or personal_text)


def _plausible(value: str) -> bool:
    """A numeric date must have a month and a day in range (either order): '13/14/2020' is not a date."""
    parts = re.split(r"[/.-]", value)
    if len(parts) != 3 or not all(p.isdigit() for p in parts):
        return True  # a month name: the pattern already constrains it
    if "." in value and len(parts[2]) != 4 and min(len(parts[0]), len(parts[1])) < 2:
        return False  # 2.3.10 is a version number; 02.03.10 and 2.3.2010 are dates
    numbers = [int(p) for p in parts]
    first, second = (numbers[1], numbers[2]) if len(parts[0]) == 4 else (numbers[0], numbers[1])
    return 1 <= min(first, second) <= 12 and 1 <= max(first, second) <= 31
