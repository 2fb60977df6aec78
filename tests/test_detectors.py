"""PII detectors: validation keeps false positives out; English and Portuguese text."""

from __future__ import annotations

import itertools

import pytest

from edgesplit.privacy.detectors import Detector, cnpj_valid, cpf_valid, iban_valid, luhn_valid


@pytest.fixture(scope="module")
def detector() -> Detector:
    return Detector(custom_patterns={"TICKET": r"\bTCK-\d{5}\b"}, deny_list=["Project Falcon"])


def _found(detector: Detector, text: str) -> dict[str, str]:
    return {e.value: e.type for e in detector.detect(text)}


def test_validators() -> None:
    assert luhn_valid("4111111111111111") and not luhn_valid("4111111111111112")
    assert iban_valid("GB82 WEST 1234 5698 7654 32") and not iban_valid("GB82 WEST 1234 5698 7654 33")
    assert cpf_valid("529.982.247-25") and not cpf_valid("529.982.247-26") and not cpf_valid("111.111.111-11")
    assert cnpj_valid("11.222.333/0001-81") and not cnpj_valid("11.222.333/0001-82")


@pytest.mark.parametrize(
    ("text", "value", "kind"),
    [
        ("Write to ana.souza@example.com.br today", "ana.souza@example.com.br", "EMAIL_ADDRESS"),
        ("Call me at (415) 555-2671 after five", "(415) 555-2671", "PHONE_NUMBER"),
        ("Meu celular é +55 11 98765-4321.", "+55 11 98765-4321", "PHONE_NUMBER"),
        ("Card 4111 1111 1111 1111 expired", "4111 1111 1111 1111", "CREDIT_CARD"),
        ("Transfer to GB82 WEST 1234 5698 7654 32 please", "GB82 WEST 1234 5698 7654 32", "IBAN"),
        ("SSN 123-45-6789 on file", "123-45-6789", "US_SSN"),
        ("Meu CPF é 529.982.247-25", "529.982.247-25", "BR_CPF"),
        ("CNPJ da empresa: 11.222.333/0001-81", "11.222.333/0001-81", "BR_CNPJ"),
        ("The scanner at 10.20.30.40 is down", "10.20.30.40", "IP_ADDRESS"),
        ("Patient born on 03/14/1985 needs a scan", "03/14/1985", "DATE_OF_BIRTH"),
        ("Data de nascimento: 12/05/1990", "12/05/1990", "DATE_OF_BIRTH"),
        ("See MRN 00123456 for the history", "00123456", "MEDICAL_RECORD"),
        ("Meu nome é João Pereira e preciso de ajuda", "João Pereira", "PERSON"),
        ("Please ask Dr. Alice Walker about it", "Alice Walker", "PERSON"),
        ("Open TCK-12345 for this", "TCK-12345", "TICKET"),
        ("Status of project falcon?", "project falcon", "CUSTOM"),
    ],
)
def test_detects(detector: Detector, text: str, value: str, kind: str) -> None:
    assert _found(detector, text).get(value) == kind


def test_ner_names_places_orgs(detector: Detector) -> None:
    found = _found(detector, "Joana Quennell met engineers from Tregothnan Hydraulics in Seattle last week.")
    assert found.get("Joana Quennell") == "PERSON"
    assert "Tregothnan Hydraulics" in found
    assert found.get("Seattle") == "LOCATION"


def test_public_people_and_companies_stay_unless_the_sentence_makes_them_personal(detector: Detector) -> None:
    """Issue 38: a famous person or a company in a general text is no one's personal data; a named patient is."""
    found = _found(detector, "Barack Obama met engineers from Microsoft in Seattle last week.")
    assert "Barack Obama" not in found and "Microsoft" not in found
    assert _found(detector, "Seen today: patient Barack Obama, chest pain.").get("Barack Obama") == "PERSON"


@pytest.mark.parametrize(
    "text",
    ["Reply with JSON only, dates as YYYY-MM-DD.", "History of COPD and CHF, MRI booked.", "How far is the Moon?"],
)
def test_abbreviations_and_everyday_words_are_not_names_or_organisations(detector: Detector, text: str) -> None:
    assert not {e.type for e in detector.detect(text)} & {"PERSON", "ORGANIZATION", "LOCATION"}, text


@pytest.mark.parametrize(
    "text",
    [
        "Card 4111 1111 1111 1112 is not a real card",  # fails Luhn
        "CPF 529.982.247-26 has a wrong check digit",
        "SSN 999-12-3456 is not issued",  # area 9xx
        "Batch 20240101 shipped with 3 units",
        "The order total was 1234 dollars on 2024",
        "Error code 404 at line 12",
    ],
)
def test_invalid_identifiers_are_not_flagged(detector: Detector, text: str) -> None:
    kinds = {e.type for e in detector.detect(text)}
    assert not kinds & {"CREDIT_CARD", "BR_CPF", "US_SSN", "PHONE_NUMBER", "BR_CNPJ"}, (text, kinds)


def test_overlaps_prefer_validated_spans(detector: Detector) -> None:
    entities = detector.detect("Email bob@ibm.com or call 415-555-2671")
    assert [e.type for e in entities] == ["EMAIL_ADDRESS", "PHONE_NUMBER"]
    assert all(a.end <= b.start for a, b in itertools.pairwise(entities))


def test_empty_and_huge_text(detector: Detector) -> None:
    assert detector.detect("") == []
    big = "Contact bob@example.com. " * 4000  # 100 kB
    assert sum(e.type == "EMAIL_ADDRESS" for e in detector.detect(big)) == 4000


def test_a_name_found_once_is_redacted_everywhere() -> None:
    from edgesplit.privacy.detectors import Detector

    text = "My name is Alice Walker. Please tell Alice Walker's manager that Alice Walker called."
    found = [e for e in Detector(ner=False).detect(text) if e.type == "PERSON"]
    assert [text[e.start : e.end] for e in found] == ["Alice Walker"] * 3


def test_a_mention_inside_a_longer_word_is_not_taken() -> None:
    text = "My name is Ann Lee. Ann Leeson is someone else; Ann Lee_x is not a name; Ann Lee."
    found = [e for e in Detector(ner=False).detect(text) if e.type == "PERSON"]
    assert [(e.start, e.value) for e in found] == [(11, "Ann Lee"), (text.rindex("Ann Lee"), "Ann Lee")]


def test_batched_detection_equals_one_by_one(detector: Detector) -> None:
    from edgesplit.evaluation.pii_corpus import unseen_corpus

    texts = [m.text for m in unseen_corpus(40, seed=5)] + ["", "Dr. Jane Roe lives at 12 Mill Lane."]
    assert detector.detect_many(texts) == [detector.detect(t) for t in texts]


def test_a_phone_inside_a_validated_identifier_is_not_a_phone(detector: Detector) -> None:
    # the card and the SSN also fit the phone candidate shape; the validated detector keeps them
    found = _found(detector, "card 4111 1111 1111 1111, SSN 123-45-6789, call +1 415 555 2671 x12")
    assert found == {
        "4111 1111 1111 1111": "CREDIT_CARD",
        "123-45-6789": "US_SSN",
        "+1 415 555 2671 x12": "PHONE_NUMBER",
    }


def test_text_without_digits_finds_no_numbers(detector: Detector) -> None:
    assert detector.detect("call me on the usual line about the visit, my friend") == []


def test_skipping_windows_other_detectors_cover_changes_no_entity(detector: Detector) -> None:
    """Every other detector outranks NER, so NER need not read the words they took (detect_many)."""
    from edgesplit.evaluation.pii_corpus import holdout_corpus, unseen_corpus

    texts = [m.text for m in unseen_corpus(60)] + [m.text for m in holdout_corpus(60)]
    assert detector._ner is not None
    every_window = detector._ner.entities_many(texts)  # no span skipped
    full = [detector._entities(t, *detector._cheap(t), names) for t, names in zip(texts, every_window, strict=True)]
    assert detector.detect_many(texts) == full


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("Claim #HSP-2231145 was filed after the accident.", "HSP-2231145"),
        ("Please quote case no. 4471123 in your reply.", "4471123"),
        ("Policy number 99812345 covers the pump.", "99812345"),
        ("Sinistro 2024118876 aberto ontem.", "2024118876"),
        ("Anote o protocolo 20231234567 do atendimento.", "20231234567"),
    ],
)
def test_case_numbers_tied_to_a_person(detector: Detector, text: str, value: str) -> None:
    assert _found(detector, text).get(value) == "CASE_NUMBER"


def test_tickets_and_cases_in_prose_are_not_case_numbers(detector: Detector) -> None:
    assert "CASE_NUMBER" not in _found(detector, "Ticket #4471: in case 12345 units fail, apply policy 7.").values()


def test_a_place_in_a_general_question_stays_and_a_patients_town_goes(detector: Detector) -> None:
    assert _found(detector, "Quais são as regras de rodízio de veículos em São Paulo?") == {}
    found = _found(detector, "Paciente Maria Souza, de São Paulo, prontuário 12345678.")
    assert found.get("São Paulo") == "LOCATION" and found.get("Maria Souza") == "PERSON"


def test_portuguese_cues_match_the_english_ones(detector: Detector) -> None:
    assert _found(detector, "Sinistro aberto por Sophie Sousa em 22/09/2025.").get("Sophie Sousa") == "PERSON"


@pytest.mark.parametrize(
    ("text", "name"),
    [
        ("Dear Heather Williams, your appointment is confirmed.", "Heather Williams"),
        ("Meu filho Lucca Porto nasceu em 2019.", "Lucca Porto"),
        ("My daughter Emma Stone has a fever.", "Emma Stone"),
        ("Conta em atraso: cliente Ísis da Rosa, sem pagamento.", "Ísis da Rosa"),
        ("The mechanic Joshua H. White signed off the pump.", "Joshua H. White"),
    ],
)
def test_salutations_relations_and_roles_are_name_cues(text: str, name: str) -> None:
    assert _found(Detector(ner=False), text).get(name) == "PERSON"


@pytest.mark.parametrize(
    ("text", "address"),
    [
        ("Mail it to 435 Mitchell Port Suite 833 by Friday.", "435 Mitchell Port Suite 833"),  # not "Port S"
        ("Ship to 12 High St S, then call.", "12 High St S"),
        ("Endereço: Praia Camargo, 129, perto do porto.", "Praia Camargo, 129"),
    ],
)
def test_street_addresses_with_suites_directions_and_beaches(text: str, address: str) -> None:
    assert _found(Detector(ner=False), text).get(address) == "LOCATION"


def test_a_name_made_only_of_everyday_words_is_no_person() -> None:
    """A test double for spaCy's doc: the rule is about what the model says, whatever model runs."""
    from types import SimpleNamespace

    from edgesplit.privacy.ner import _spans

    text = "Conta de energia em atraso: cliente Ana Rosa."

    def ent(value: str) -> SimpleNamespace:
        start = text.index(value)
        return SimpleNamespace(label_="PERSON", text=value, start_char=start, end_char=start + len(value))

    doc = SimpleNamespace(ents=[ent("Conta de energia"), ent("Ana Rosa")])
    assert [s.value for s in _spans(doc, 0, text)] == ["Ana Rosa"]
