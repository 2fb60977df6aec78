"""Names by their shape (privacy/name_shapes.py), alone and inside the detector's context rule."""

from __future__ import annotations

import pytest

from edgesplit.privacy.detectors import Detector
from edgesplit.privacy.name_shapes import find_name_shapes


def _shapes(text: str) -> list[str]:
    return [text[start:end] for start, end in find_name_shapes(text)]


@pytest.mark.parametrize(
    ("text", "name"),
    [
        ("dúvidas com Augusto Leão pelo telefone", "Augusto Leão"),
        ("Salary for June Turner is to be paid", "June Turner"),
        ("a audiência de Matteo da Cunha foi adiada", "Matteo da Cunha"),
        ("mail it to Amanda D. Collins today", "Amanda D. Collins"),
        ("Teleconsulta: Ísis Gonçalves relatou febre", "Ísis Gonçalves"),
        ("ask Jean-Pierre Dubois", "Jean-Pierre Dubois"),
    ],
)
def test_a_full_name_has_the_shape(text: str, name: str) -> None:
    assert name in _shapes(text)


@pytest.mark.parametrize(
    "text",
    [
        "Summarize the history of the Golden Gate Bridge.",  # everyday words
        "The Hospital No is on the letter.",  # a stop word
        "Maria called.",  # one word is no full name
        "Reset the Siemens S7-1200 to factory settings.",  # digits
        "Qual é a distância entre Curitiba e Florianópolis?",  # "e" joins two names, not the parts of one
    ],
)
def test_other_capitalised_words_are_not(text: str) -> None:
    assert _shapes(text) == []


def test_a_particle_at_the_end_is_left_out() -> None:
    assert _shapes("falei com Maria da Silva da manhã") == ["Maria da Silva"]


@pytest.fixture(scope="module")
def detector() -> Detector:
    return Detector(ner=True)


def test_the_shape_counts_only_in_a_text_about_a_person(detector: Detector) -> None:
    personal = "O boleto vence amanhã; dúvidas com Augusto Leão pelo 11 98765-4321."
    assert any(e.value == "Augusto Leão" and e.type == "PERSON" for e in detector.detect(personal))
    question = "Quem foi Santos Dumont e o que ele inventou?"
    assert not any(e.source == "name" for e in detector.detect(question))


def test_a_shape_never_takes_a_well_known_place(detector: Detector) -> None:
    text = "Patient ID 4417781, moved from Rio de Janeiro last year."
    assert not any(e.source == "name" for e in detector.detect(text))
