"""privacy/ner.py: NER reads only windows around capitalised words, and finds what the whole text gives."""

from __future__ import annotations

import pytest

from edgesplit.evaluation.pii_corpus import holdout_corpus, tuning_corpus, unseen_corpus
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
