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


def test_scoring_an_answer_gives_the_log_probabilities_its_generation_had() -> None:
    """The next tier's check reads an answer in one prefill: on the model that wrote it, that must give
    the log-probabilities the greedy generation reported, up to the rounding of llama.cpp's batched
    kernels (measured here: mean difference about 0.02, the largest about 0.25 nats), and leave
    later generations unchanged."""
    import asyncio

    from edgesplit.generation import GenerationParams, TokenEvent

    backend = LocalBackend(EDGE_MODEL, locate_model(EDGE_MODEL), ModelQueue(EDGE_MODEL, 1, 1))
    prompt = Prompt(messages=(("user", "What is the SI unit of pressure?"),))
    params = GenerationParams(max_tokens=24, temperature=0.0)

    async def run() -> tuple[list[TokenEvent], list[float], list[TokenEvent]]:
        first = [e async for e in backend.stream(prompt, params) if isinstance(e, TokenEvent)]
        scored = await backend.score(prompt, "".join(e.text for e in first))
        again = [e async for e in backend.stream(prompt, params) if isinstance(e, TokenEvent)]
        return first, scored, again

    try:
        first, scored, again = asyncio.run(run())
        generated = [e.logprob for e in first if e.logprob is not None]
        assert len(scored) == len(generated) > 5
        differences = [abs(a - b) for a, b in zip(scored, generated, strict=True)]
        assert sum(differences) / len(differences) < 0.05 and max(differences) < 0.5
        assert abs(scored[0] - generated[0]) < 1e-3  # the first is read after the prompt, as in generation
        assert [e.text for e in again] == [e.text for e in first]
        assert asyncio.run(backend.score(prompt, "")) == []
        unlikely = asyncio.run(backend.score(prompt, "Purple elephants sing in Latin."))
        assert sum(unlikely) / len(unlikely) < sum(generated) / len(generated)
    finally:
        backend.close()
