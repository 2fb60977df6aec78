"""LocalBackend details that the routes rely on."""

from __future__ import annotations

from conftest import EDGE_MODEL
from edgesplit.admission import ModelQueue
from edgesplit.generation import Prompt
from edgesplit.llama.backend import LocalBackend
from edgesplit.models import locate_model


def test_a_prompt_is_tokenized_once_and_callers_get_their_own_list() -> None:
    backend = LocalBackend(EDGE_MODEL, locate_model(EDGE_MODEL), ModelQueue(EDGE_MODEL, 1, 1))
    encoded: list[Prompt] = []
    encode = backend.tokenizer.encode
    backend.tokenizer.encode = lambda prompt: (encoded.append(prompt), encode(prompt))[1]  # type: ignore[method-assign]
    try:
        prompt = Prompt(messages=(("user", "Name three colours."),))
        first = backend.tokenize(prompt)
        first.append(-1)  # a caller's list is its own
        assert backend.tokenize(prompt) == encode(prompt)
        assert len(encoded) == 1
        other = Prompt(messages=(("user", "Name three colours."),))  # equal but another request
        assert backend.tokenize(other) == encode(prompt) and len(encoded) == 2
    finally:
        backend.close()
