"""privacy/ner.py: NER reads only windows around capitalised words, and finds what the whole text gives."""

from __future__ import annotations

import pytest

from edgesplit.evaluation.pii_corpus import holdout_corpus, tuning_corpus, unseen_corpus
from edgesplit.privacy.gazetteer import known_place
from edgesplit.privacy.ner import NerModel, ner_windows


def test_a_lowercase_question_has_no_window() -> None:
    assert ner_windows("how do i reverse a linked list in python? show the code.") == []


def test_capitalised_stop_words_open_no_window() -> None:
    assert ner_windows("The answer is what it is. When can we go?") == []


def test_a_window_holds_the_candidate_and_its_neighbours() -> None:
    text = "one two three four five six Maria seven eight nine ten eleven twelve"
    [(start, end)] = ner_windows(text, words_each_side=2)
    assert text[start:end] == "five six Maria seven eight"


def test_overlapping_windows_merge() -> None:
    text = "a b c Ana d Bia e f g h i j k"
    assert [text[s:e] for s, e in ner_windows(text, words_each_side=1)] == ["c Ana d Bia e"]


def test_quotes_and_brackets_around_a_name_still_open_a_window() -> None:
    text = 'she said "Joana" and left (Recife).'
    assert [text[s:e] for s, e in ner_windows(text, words_each_side=0)] == ['"Joana"', "(Recife)."]


@pytest.fixture(scope="module")
def model() -> NerModel:
    return NerModel()


@pytest.mark.parametrize("corpus", [tuning_corpus, unseen_corpus, holdout_corpus])
def test_windows_find_exactly_what_the_whole_text_gives(model: NerModel, corpus) -> None:  # type: ignore[no-untyped-def]
    texts = [m.text for m in corpus()][:120]
    windowed = model.entities_many(texts)
    whole = [model.entities_whole(t) for t in texts]
    assert windowed == whole
    assert sum(map(len, whole)) > 60  # the corpora are full of names: the check compares real entities


def test_a_well_known_place_is_a_location_whatever_the_model_says(model: NerModel) -> None:
    text = "Quais são as regras de rodízio de veículos em São Paulo?"  # the model reads "São Paulo" as PERSON
    assert [(s.type, s.value) for s in model.entities_many([text])[0]] == [("LOCATION", "São Paulo")]
    assert known_place("Edinburgh") and known_place("Rio de Janeiro")
    assert not known_place("Charlotte") and not known_place("Austin")  # given names stay names


def test_a_one_word_everyday_word_is_no_person(model: NerModel) -> None:
    text = "Entrega para Davi Luiz da Costa no endereço indicado."  # "Entrega" alone was tagged PERSON
    assert "Entrega" not in {s.value for s in model.entities_many([text])[0]}


def test_a_name_is_widened_over_the_name_words_beside_it(model: NerModel) -> None:
    text = "Entrega para Luiz Otávio Vieira no endereço Loteamento Dante da Rocha, 650."
    names = {s.value for s in model.entities_many([text])[0] if s.type == "PERSON"}
    assert "Luiz Otávio Vieira" in names  # the model alone tags "Otávio Vieira"


def test_words_other_detectors_took_open_no_window() -> None:
    text = "a b c d e f Maria Souza g h i j k l m n o p q Recife r s"
    start = text.index("Maria Souza")
    spans = ner_windows(text, words_each_side=1, taken=[(start, start + len("Maria Souza"))])
    assert [text[s:e] for s, e in spans] == ["q Recife r"]
    assert ner_windows("The CPF and the MRN are on file.") == []  # ID labels are no candidates


def test_a_person_is_cut_to_its_capitalised_part(model: NerModel) -> None:
    text = "Laudo de exame de Theodoro Guerra, nascimento: 22 de julho de 1968."
    people = [s.value for s in model.entities_many([text])[0] if s.type == "PERSON"]
    assert "Theodoro Guerra" in people and not any("exame" in p or p == "Laudo" for p in people)


def test_an_entity_with_a_digit_or_a_heading_before_a_colon_is_no_name(model: NerModel) -> None:
    found = [s.value for s in model.entities_many(["Please mail the W-2 for Robert Johnson today."])[0]]
    assert "W-2" not in found
    text = "Teleconsulta: Sofia Carvalho relatou febre desde ontem."
    assert "Teleconsulta" not in [s.value for s in model.entities_many([text])[0]]


def test_an_everyday_word_opening_a_sentence_is_no_place(model: NerModel) -> None:
    text = "Clínica veterinária: a tutora Alana Nascimento remarcou a vacina."
    assert "Clínica" not in [s.value for s in model.entities_many([text])[0] if s.type == "LOCATION"]
