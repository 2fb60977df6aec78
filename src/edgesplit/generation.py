"""What every backend speaks: a prompt and sampling parameters in, a stream of token events out."""

from __future__ import annotations

from collections.abc import AsyncGenerator
from dataclasses import dataclass, field, replace
from typing import Any, Literal, Protocol

__all__ = ["Backend", "Finish", "GenerationParams", "Prompt", "PromptState", "TokenEvent", "mean_logprob"]


@dataclass(frozen=True)
class Prompt:
    """Either chat messages (``[{"role", "content"}]``) or raw completion text."""

    messages: tuple[tuple[str, str], ...] = ()
    text: str | None = None
    continuation: str = ""  # answer text already produced elsewhere; a local model continues after it

    @property
    def is_chat(self) -> bool:
        return self.text is None

    def as_openai_messages(self) -> list[dict[str, str]]:
        return [{"role": role, "content": content} for role, content in self.messages]

    def continued(self, text: str) -> Prompt:
        """The same prompt, with ``text`` already answered (for finishing a broken stream locally)."""
        return Prompt(messages=self.messages, text=self.text, continuation=self.continuation + text)


@dataclass(frozen=True)
class GenerationParams:
    """Sampling controls, already validated and defaulted by the node."""

    max_tokens: int
    max_tokens_explicit: bool = True  # False: a default the backend may shrink to fit the context
    temperature: float = 1.0
    top_p: float = 1.0
    seed: int | None = None
    stop: tuple[str, ...] = ()
    presence_penalty: float = 0.0
    frequency_penalty: float = 0.0
    logprobs: bool = False  # always computed locally; asked of the upstream only when True
    top_logprobs: int = 0
    skip_threshold: float | None = None  # speculative route: show edge tokens at least this likely unverified
    # headers an upstream call carries: the privacy floor (x-edgesplit-privacy), extracted fields
    upstream_headers: tuple[tuple[str, str], ...] = ()

    def with_upstream_header(self, name: str, value: str) -> GenerationParams:
        return replace(self, upstream_headers=(*self.upstream_headers, (name, value)))


@dataclass
class TokenEvent:
    """One generated token (or, from an upstream without token detail, one text delta)."""

    text: str
    logprob: float | None = None
    top_logprobs: list[tuple[str, float]] = field(default_factory=list)


@dataclass(frozen=True)
class PromptState:
    """The local model's view of a prompt once it is evaluated, before the first token is shown.

    ``hidden`` is the final (normed) hidden state at the last prompt position, a float32 vector
    of the model's width: the prompt summary a learned router scores (see routing.scorer).
    """

    hidden: Any
    tokens: tuple[int, ...]


@dataclass
class Finish:
    """End of a generation."""

    reason: Literal["stop", "length"]
    prompt_tokens: int
    completion_tokens: int
    upstream_hops: tuple[dict[str, Any], ...] = ()  # the tiers above that served it, as they report themselves


def finish_reason(reason: str) -> Literal["stop", "length"]:
    """The OpenAI finish reason of a generation that ended for ``reason`` ("stop" or anything else)."""
    return "stop" if reason == "stop" else "length"


class Backend(Protocol):
    """A source of generations: the local model, an upstream tier, or a test double."""

    name: str

    def stream(self, prompt: Prompt, params: GenerationParams) -> AsyncGenerator[TokenEvent | Finish, None]:
        """Generate; yields token events, then exactly one :class:`Finish`."""
        ...


def mean_logprob(events: list[TokenEvent]) -> float | None:
    """Mean token log-probability of ``events``; None when no event carries one."""
    values = [e.logprob for e in events if e.logprob is not None]
    return sum(values) / len(values) if values else None
