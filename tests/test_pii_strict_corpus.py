"""The strict corpus (evaluation/pii_strict_corpus.py) is the same on every run, and its labels mark real values."""

from __future__ import annotations

from edgesplit.evaluation.pii_strict_corpus import LOCALES, general_questions, strict_corpus


def test_the_corpus_is_reproducible_and_its_labels_cover_values() -> None:
    first, again = strict_corpus(), strict_corpus()
    assert [m.text for m in first] == [m.text for m in again]
    assert len(first) == 150 and {m.lang for m in first} == {"en", "pt"}
    for message in first:
        for label in message.labels:
            value = message.text[label.start : label.end]
            assert value.strip() == value and value, (message.text, label)
    kinds = {label.type for m in first for label in m.labels}
    assert {"PERSON", "LOCATION", "POSTCODE", "IDENTIFIER", "PHONE_NUMBER"} <= kinds
    assert len(LOCALES) == 5


def test_general_questions_hold_no_labels_and_differ() -> None:
    questions = general_questions()
    assert len(questions) == len(set(questions)) == 40
