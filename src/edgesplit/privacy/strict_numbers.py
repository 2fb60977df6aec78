"""Strict mode's numbers: every digit-bearing token is redacted unless it reads as an amount.

Kept: a quantity with its unit (``5 mg``, ``3.5bar``, ``80%``, ``£250``, ``2,000 litres``), a clock
time, a year alone (not after a capitalised word or a code: "NSW 2000" is a postcode), an ordinal
or a number of at most three digits in a text about nobody, a count of things ("12 pumps"), and
the tokens the policy lists as safe. A number with a one-letter "unit" and more than three digits,
or a leading zero, is a code ("4471A", "0800"). Digit tokens joined by spaces, dashes, brackets or
an extension word, and the 1 to 3 capitals next to them ("LM 53 97 91 B"), are one placeholder,
typed by shape: ``POSTCODE``, ``DATE``, ``PHONE_NUMBER``, ``IDENTIFIER`` or ``NUMBER``.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence

from edgesplit.privacy.tokens import StrictSpan, Token
from edgesplit.privacy.vocabulary import Vocabulary, is_abbreviation, word_rank, word_set

__all__ = ["find_numbers"]

_UNIT = (
    r"(?:mg|mcg|µg|μg|ng|g|kg|t|ml|cl|dl|l|iu|ui|units?|mmol|mol|mmhg|bpm|°c|°f|°|ºc|c|f|km|m|cm|mm|µm|nm|mi|ft|in|"
    r"kwh|mwh|kw|mw|w|v|kv|mv|a|ma|ah|mah|hz|khz|mhz|ghz|rpm|psi|bar|mbar|kpa|mpa|pa|nm|h|hr|hrs|min|mins|s|sec|ms|"
    r"x|k|gb|mb|kb|tb|mbps|gbps|db|lux|ppm|lbs?|oz|gal|yd|kcal|cal|%|pct|p|eur|usd|gbp|brl|ha|m2|m3|m²|m³|cc)"
)
_QUANTITY = re.compile(
    rf"[~≈<>≤≥±]?(?:[$£€]\d+(?:[.,]\d+)*|\d+(?:[.,]\d+)*(?:-\d+(?:[.,]\d+)*)?{_UNIT}(?:/{_UNIT})*)", re.I
)
_CLOCK = re.compile(r"\d{1,2}(?:[:h]\d{2}(?::\d{2})?)?(?:am|pm|h)?", re.I)
# "14h30" is a time after "at", but "ref 00H00" is a code: an h-clock leaves only after a time word
_H_CLOCK = re.compile(r"(\d{1,2})h(\d{2})h?", re.I)
_TIME_CUES = word_set("at by until till til from to before after around about since between and or à as às ab um")
_ORDINAL = re.compile(r"\d{1,3}(?:st|nd|rd|th|º|ª|o|a)", re.I)
_YEAR = re.compile(r"(?:1[5-9]|20)\d\d(?:s)?|'\d0s")
_SMALL = re.compile(r"-?\d{1,3}(?:[.,]\d{1,2})?(?:-\d{1,3})?")
# A term of a formula or of code, in a text about nobody: "4x^3", "f(2", "str1", "O(n^2", "top-5".
_TERM = re.compile(r"[-+]?(?:\d{1,3}[a-z]?|[a-z_]+\d{0,3}|[A-Za-z]|\d{1,3}(?:st|nd|rd|th))(?:\^-?\d{1,2})?")
_TERM_SPLIT = re.compile(r"[()\[\]{}^*/+=<>|,_-]+")
_UNIT_WORDS = word_set(
    "mg mcg g kg ml l m s h min ft lb lbs ha litre litres liter liters units unit tablets tablet caps "
    "capsules doses dose puffs drops mmhg bpm degrees percent per cent km kilometres kilometers miles metres "
    "meters cm mm feet foot inches inch volts volt amps amp watts kw kwh rpm psi bar hours hour hrs minutes "
    "minute mins seconds second days day weeks week months month years year times euros euro dollars dollar "
    "pounds pound reais horas dias semanas meses anos minutos segundos vezes comprimidos graus °c °f x"
)
_SHAPES: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("POSTCODE", re.compile(r"[A-Z]{1,2}\d[A-Z\d]? ?\d[A-Z]{2}|[A-Z]\d{2} ?[A-Z\d]{4}|\d{4}-\d{3}|\d{5}-\d{3}", re.I)),
    ("DATE", re.compile(r"\d{1,4}[./-]\d{1,2}[./-]\d{1,4}")),
    ("PHONE_NUMBER", re.compile(r"(?=(?:\D*\d){8})[+(]?[\d][\d ().-]{6,}\d(?:\s*(?:ext\.?|x|ramal)\s*\d+)?", re.I)),
)
_CONNECTORS = frozenset({"ext", "ext.", "extn", "x", "ramal", "/"})
_THOUSANDS = re.compile(r"[$£€]?\d{1,3}(?:,\d{3})+(?:\.\d+)?")  # "2,000", "1,250.50": an amount, never an id


def find_numbers(tokens: Sequence[Token], personal: bool, vocabulary: Vocabulary) -> Iterator[StrictSpan]:
    """Digit tokens no rule vouches for; neighbours (and extensions) become one span."""
    i = 0
    while i < len(tokens):
        if not tokens[i].has_digit:
            i += 1
            continue
        last = _group_end(tokens, i)
        if not personal and _formula_group(tokens[i : last + 1]):
            i = last + 1  # "4x^3 - 9x - 14", "len(str1)": a formula in a text about nobody
            continue
        if last == i and _safe_number(tokens, i, personal, vocabulary):
            i += 1
            continue
        if i and _letter_code(tokens[i - 1], tokens[i]):  # "LM 53 97 91 B", "DL 2416-8632"
            i -= 1
        if last + 1 < len(tokens) and _letter_code(tokens[last + 1], tokens[last]):
            last += 1
        start, end = tokens[i].start, tokens[last].end
        yield StrictSpan(_number_type(tokens, i, last), start, end, last > i or len(_digits(tokens[i].core)) > 3)
        i = last + 1


def _letter_code(letters: Token, number: Token) -> bool:
    """Is ``letters``, next to a redacted number, a code's letters: 1 to 3 capitals, no word, no abbreviation?"""
    core, between = letters.core, (number.gap if number.start > letters.start else letters.gap)
    if not (core.isalpha() and core.isupper() and len(core) <= 3) or "\n" in between or between.strip(" -/"):
        return False
    return not is_abbreviation(core) and (len(core) == 1 or word_rank(core, "en") is None)


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


def _a_time(core: str, prev: Token | None) -> bool:
    """A clock-shaped token that reads as a time: "10:30", "3pm"; "14h30" only after "at", "until" …"""
    h_clock = _H_CLOCK.fullmatch(core)
    if h_clock is None:
        return True
    in_range = int(h_clock[1]) <= 23 and int(h_clock[2]) <= 59
    return in_range and prev is not None and prev.core.lower() in _TIME_CUES


def _safe_number(tokens: Sequence[Token], i: int, personal: bool, vocabulary: Vocabulary) -> bool:
    core = tokens[i].core
    nxt = tokens[i + 1].core.lower() if i + 1 < len(tokens) and "\n" not in tokens[i + 1].gap else ""
    prev = tokens[i - 1] if i else None
    if vocabulary.is_safe_token(core) or (_CLOCK.fullmatch(core) and not core.isdigit() and _a_time(core, prev)):
        return True
    if _THOUSANDS.fullmatch(core):
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


def _formula_group(group: Sequence[Token]) -> bool:
    """Formula terms and small numbers, one term at least: kept in a text about nobody."""
    terms = [_formula(t.core) for t in group]
    return any(terms) and all(term or _SMALL.fullmatch(t.core) for term, t in zip(terms, group, strict=True))


def _formula(core: str) -> bool:
    """Is ``core`` a formula's or code's term with few digits and a letter or operator ("4x^3", "str1[i")?"""
    if not re.search(r"[a-z^()\[\]=*_]", core) or len(_digits(core)) > 3:
        return False
    parts = [p for p in _TERM_SPLIT.split(core) if p]
    return all(_TERM.fullmatch(p) or word_rank(p, "en") is not None for p in parts)


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
