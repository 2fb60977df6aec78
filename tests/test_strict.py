"""Strict-mode redaction (privacy/strict.py): what no list vouches for never leaves, public names stay.

The cases below were written for the rules; the figures on text nobody tuned on come from
``bench/redact.py`` on the strict corpus (edgesplit.evaluation.pii_strict_corpus).
"""

from __future__ import annotations

import string

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from edgesplit.config import load_settings
from edgesplit.privacy.detectors import Detector
from edgesplit.privacy.redactor import redact_text
from edgesplit.privacy.restore import restore
from edgesplit.privacy.vault import Mapping


@pytest.fixture(scope="module")
def strict() -> Detector:
    return Detector(mode="strict")


def _redacted(detector: Detector, text: str) -> str:
    return redact_text(text, detector.detect(text), Mapping())


@pytest.mark.parametrize(
    ("text", "values"),
    [
        ("PPSN 7731942KA on file", ["7731942KA"]),  # an Irish PPS number: no rule names it
        ("Eircode: T23 X4F9", ["T23 X4F9"]),
        ("Post to 2 Quay St, Ballymore NSW 2483", ["2483", "Ballymore"]),  # a postcode that looks like no year
        ("ring +353 (0)87 123 4567 ext. 204", ["+353 (0)87 123 4567 ext. 204"]),
        ("Contribuinte 245 887 931, morada Rua do Alecrim 44", ["245 887 931", "Alecrim", "44"]),
        ("Seen: Mr Tadhg Hardy-Quennell and Dr Ní Bhriain.", ["Hardy-Quennell", "Tadhg", "Ní Bhriain"]),
        ("Patient Siobhán O'Dowd-Ferreira was admitted.", ["Siobhán O'Dowd-Ferreira"]),
        ("hi aoife, can you call me back", ["aoife"]),
        ("Kind regards,\nmaeve", ["maeve"]),
        ("Surname: o'connor\nTown: Cork", ["o'connor", "Cork"]),
        ("CARDHOLDER: JOHN KEARNEY", ["JOHN KEARNEY"]),
        ("Will Kearney called about the review", ["Will Kearney"]),
        ("spoke to Costa about the claim", ["Costa"]),
        ("Policy LX-88-2210-Q lapsed", ["LX-88-2210-Q"]),
        ("Patient Elvis Presley, room 12", ["Elvis Presley", "12"]),  # public, but a named patient
        ("hey its dwayne brightwater again", ["dwayne brightwater"]),  # an introduction, lower case
        ("oi, sou a duarte pereira, a encomenda", ["duarte pereira"]),  # names that are rarer words, together
        ("Tenancy application from Shannon Fitzgerald", ["Shannon Fitzgerald"]),  # a public river, then a name
        ("Postcode m1 1ae please", ["m1 1ae"]),  # lower-case letters and digits, no formula
    ],
)
def test_strict_mode_replaces_what_it_cannot_vouch_for(strict: Detector, text: str, values: list[str]) -> None:
    out = _redacted(strict, text)
    leaked = [v for v in values if v in out]
    assert not leaked, out
    for part in values:
        for word in part.split():
            assert word.strip("(),.") not in out.split(), out


@pytest.mark.parametrize(
    "text",
    [
        "What is the capital of France?",
        "Who was Napoleon and when did he die?",
        "How far is the Moon from the Earth?",
        "Is Microsoft Excel better than Google Sheets for this?",
        "Reply with JSON only, dates as YYYY-MM-DD.",
        "History of COPD and CHF; MRI booked, BP 120/80 mmHg, 5 mg ramipril twice daily.",
        "What is 12 times 7? Convert 5 miles to km.",
        "When did World War II end? In 1945.",
        "The pump tripped at 14:32 with 3.5 bar, 80% load and 1500 rpm.",
        "Flights from Dublin Airport to Lisbon take about 3 hours.",
        "Is COVID-19 worse than the flu? Does 5G work indoors?",
        "URGENT: PLEASE REPLY BEFORE FRIDAY",
        # everyday words that are names too, after a cue word or a determiner
        "The river weaves its way through Brazil; its power is unrivalled.",
        "Tell me the best way to do it, for the reader.",
        "Act as a math teacher. I am in financial math.",
        "Please assume the role of an English translator and answer in Danish.",
        'She asked, "Can you?"\na) An unengaged girl is alone.',
        "Hello! Can you help me with the Amazon River?",
        # formulas and code in a text about nobody
        "Find f(2) where f(x) = 4x^3 - 9x - 14.",
        "def lcs(str1, str2): return len(str1) - 1",
        "It runs in O(n^2) time and returns the top-5 matches, rated 9-10, for x = -1.",
    ],
)
def test_strict_mode_keeps_general_text_whole(strict: Detector, text: str) -> None:
    assert strict.detect(text) == [], [(e.type, e.value) for e in strict.detect(text)]


def test_a_public_place_in_a_text_about_a_person_is_redacted(strict: Detector) -> None:
    found = {e.value: e.type for e in strict.detect("I live in Lisbon with my son, call me on 912 345 678.")}
    assert found.get("Lisbon") == "LOCATION"


def test_placeholders_are_typed_by_shape(strict: Detector) -> None:
    found = {e.value: e.type for e in strict.detect("Patient Kearney, T23 X4F9, tel 087 123 4567, ID 99-1234-Z")}
    assert found["T23 X4F9"] == "POSTCODE"
    assert found["087 123 4567"] == "PHONE_NUMBER"
    assert found["99-1234-Z"] == "IDENTIFIER"
    assert found["Kearney"] == "PERSON"


def test_a_lower_tiers_placeholders_are_not_redacted_again(strict: Detector) -> None:
    assert strict.detect("Hi <PERSON_1>, your code <IDENTIFIER_2> is ready.") == []


def test_safe_tokens_and_public_entities_are_configurable() -> None:
    detector = Detector(mode="strict", safe_tokens=["PX-200"], public_entities=["Tregothnan Pumps"])
    assert detector.detect("Is the PX-200 from Tregothnan Pumps any good?") == []
    assert Detector(mode="strict").detect("Is the PX-200 from Tregothnan Pumps any good?") != []


def test_the_clinical_preset_defaults_to_strict_and_an_explicit_mode_wins() -> None:
    assert load_settings(privacy_preset="clinical").privacy_mode == "strict"
    assert load_settings(privacy_preset="clinical", privacy_mode="standard").privacy_mode == "standard"
    assert load_settings().privacy_mode == "standard"
    assert Detector.from_settings(load_settings(privacy_mode="strict")).mode == "strict"


def test_strict_mode_runs_no_ner_and_the_cheap_pass_stays_cheap() -> None:
    detector = Detector(mode="strict")
    assert detector.has_ner  # the full pass costs more than the cheap one: the redactor defers it
    assert detector.detect("siobhan rang about PPSN 7731942KA", ner=False) == []  # the decision's pass
    assert len(detector.detect("siobhan rang about PPSN 7731942KA")) == 2  # what leaves: the full pass


_ID_CHARS = string.ascii_uppercase + string.digits + "-/"
_IDENTIFIERS = st.text(_ID_CHARS, min_size=5, max_size=14).filter(
    lambda s: sum(c.isdigit() for c in s) >= 4 and s[0].isalnum() and s[-1].isalnum()
)
_SENTENCES = st.sampled_from([
    "Patient ref {} was seen today.", "My number is {}.", "The tenant's id {} is on the form.",
    "{} is the code on the card", "Please quote {} when you call.", "Número de utente {}, obrigado.",
])  # fmt: skip


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(identifier=_IDENTIFIERS, sentence=_SENTENCES)
def test_an_identifier_of_any_format_never_leaves_and_comes_back(
    strict: Detector, identifier: str, sentence: str
) -> None:
    text = sentence.format(identifier)
    mapping = Mapping()
    out = redact_text(text, strict.detect(text), mapping)
    assert identifier not in out, out
    assert restore(mapping, out) == text
