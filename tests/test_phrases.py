"""privacy/phrases.py: the first-letter lookahead matches exactly what the plain alternation matches."""

from __future__ import annotations

import re

from hypothesis import given, settings
from hypothesis import strategies as st

from edgesplit.privacy.phrases import word_alternation

BRANCHES = ["my name is", "patient", "técnic[oa]", "sou (?:o|a)", "Mr", "engenheir[oa]", "x"]


def plain(branches: list[str]) -> str:
    return rf"\b(?:{'|'.join(branches)})"


def test_letter_branches_get_a_lookahead() -> None:
    assert word_alternation(["patient", "Mr"]).startswith(r"\b(?=[MPmp])")


def test_uncertain_first_letters_fall_back_to_the_plain_alternation() -> None:
    for branch in ["(?:case|claim) no", "s?erial", "a*b", "mrn|record", r"\d+ main"]:
        assert word_alternation(["patient", branch]) == plain(["patient", branch])


def test_a_bar_inside_a_group_keeps_the_lookahead() -> None:
    assert "(?=" in word_alternation(["sou (?:o|a)", r"n[|]x"])


words = st.sampled_from(["my", "name", "is", "Patient", "PATIENT", "técnico", "sou", "o", "Mr", "mr.", "x", "xx", "é"])


@settings(max_examples=300, deadline=None)
@given(st.lists(words, max_size=12), st.sampled_from([" ", ", ", "-", "\n"]))
def test_same_matches_as_the_plain_alternation(tokens: list[str], sep: str) -> None:
    text = sep.join(tokens)
    for flags in (0, re.IGNORECASE):
        fast = re.compile(word_alternation(BRANCHES), flags)
        slow = re.compile(plain(BRANCHES), flags)
        assert [m.span() for m in fast.finditer(text)] == [m.span() for m in slow.finditer(text)]
