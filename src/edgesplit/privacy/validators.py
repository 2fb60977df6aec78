"""Validation of detected candidates: check digits, number rules and phone-number plans.

A pattern finds something shaped like an identifier; these say whether it is one. Luhn for cards
(plus a card layout and an issuer digit), mod-97 for IBAN, check digits for CPF and CNPJ, the
area/group/serial rules for US SSN, ``ipaddress`` for IPs, ``phonenumbers`` for phone numbers.
"""

from __future__ import annotations

import functools
import ipaddress
import re
from collections.abc import Sequence

__all__ = [
    "PHONE_EXTENSION", "card_valid", "cnpj_valid", "cpf_valid", "iban_valid", "ip_valid", "luhn_valid",
    "phone_source", "ssn_valid",
]  # fmt: skip

PHONE_EXTENSION = r"\s?(?:x|ext\.?|extension|ramal|r\.)\s?\d{1,6}"  # "ext. 204", "x12", "ramal 12"
_EXTENSION = re.compile(PHONE_EXTENSION + "$", re.IGNORECASE)
_PHONE_DIGITS = (7, 17)  # digits a phone number can have: national 7 (some US/PT forms) up to +CC and 15


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


def ssn_valid(ssn: str) -> bool:
    area, group, serial = ssn[:3], ssn[4:6], ssn[7:]
    return area not in ("000", "666") and not area.startswith("9") and group != "00" and serial != "0000"


def ip_valid(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


# How card numbers are written: plain, in fours (16-19 digits), or 4-6-5 (15-digit Amex).
_CARD_LAYOUT = re.compile(r"\d{13,19}|\d{4}([ -])\d{4}\1\d{4}\1\d{4}(?:\1?\d{1,3})?|\d{4}([ -])\d{6}\2\d{5}")


def card_valid(text: str) -> bool:
    """Luhn-valid, a card layout, and an issuer's first digit (2-6: Mastercard, Amex, Visa, Discover...)."""
    digits = re.sub(r"[ -]", "", text)
    return _CARD_LAYOUT.fullmatch(text) is not None and text[0] in "23456" and luhn_valid(digits)


@functools.lru_cache(maxsize=4096)  # a chat resends its history every turn: the same numbers recur
def phone_source(candidate: str, regions: tuple[str, ...]) -> str | None:
    """'pattern' for a valid number, 'shape' for a possible one laid out like a phone number, else None."""
    import phonenumbers

    cleaned = _EXTENSION.sub("", candidate)  # "ext. 12", "x12", "ramal 12": the number is what validates
    cleaned = cleaned.replace("0xx", "0", 1) if cleaned.startswith("0xx") else cleaned
    if not _PHONE_DIGITS[0] <= sum(ch.isdigit() for ch in cleaned) <= _PHONE_DIGITS[1]:
        return None  # no number plan in any region has fewer or more digits
    possible = False
    for region in regions[:1] if cleaned.startswith("+") else regions:  # "+44 ...": the region is written
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
    """10 to 15 digits in at least two groups, or after a "+" (``+441154960793``: an international
    number written as one run); dots only in the 3-3-4 layout (not dates, versions, IPs).

    ``core`` is the candidate without its extension."""
    digits = sum(ch.isdigit() for ch in core)
    groups = [g for g in re.split(r"[\s().-]+", core.lstrip("+")) if g]
    if not 10 <= digits <= 15 or (len(groups) < 2 and not core.startswith("+")):
        return False
    return _dots_allowed(core)


def _dots_allowed(core: str) -> bool:
    """Dots only in the 3-3-4 layout (``415.555.2671``): dotted digits are otherwise dates, versions or IPs.

    ``core`` is the candidate without its extension."""
    return "." not in core or bool(re.fullmatch(r"(?:\+?1\.)?\d{3}\.\d{3}\.\d{4}", core))
