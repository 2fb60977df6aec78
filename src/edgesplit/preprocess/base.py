"""The pre-processor contract and the entry-point registry."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from importlib.metadata import entry_points
from typing import TYPE_CHECKING, Any, Literal, Protocol

from edgesplit.errors import ConfigError
from edgesplit.generation import Prompt

if TYPE_CHECKING:
    from edgesplit.config import Settings

__all__ = [
    "ENTRY_POINT_GROUP",
    "Applied",
    "Preprocessor",
    "Processed",
    "Stage",
    "available",
    "load_preprocessors",
    "map_user_text",
]

ENTRY_POINT_GROUP = "edgesplit.preprocessors"
Stage = Literal["before-routing", "escalation"]


@dataclass(frozen=True)
class Applied:
    """What one pre-processor did to a request, for the response's ``edgesplit.preprocessing``."""

    name: str
    changed: bool
    detail: dict[str, Any] = field(default_factory=dict)  # counts and extracted fields, per pre-processor

    def info(self) -> dict[str, Any]:
        return {"name": self.name, "changed": self.changed, **self.detail}


@dataclass(frozen=True)
class Processed:
    prompt: Prompt
    applied: Applied


class Preprocessor(Protocol):
    """One step: ``stage`` says when it runs; ``apply`` returns the new prompt and what it did."""

    name: str
    stage: Stage

    def apply(self, prompt: Prompt) -> Processed: ...


Factory = Callable[["Settings"], Preprocessor]


def available() -> dict[str, Any]:
    """Installed pre-processors by name (entry points of :data:`ENTRY_POINT_GROUP`)."""
    return {ep.name: ep for ep in entry_points(group=ENTRY_POINT_GROUP)}


def load_preprocessors(names: Sequence[str], settings: Settings) -> list[Preprocessor]:
    """The configured pre-processors, in order; an unknown name is a :class:`ConfigError`."""
    installed = available()
    steps = []
    for name in names:
        if name not in installed:
            known = ", ".join(sorted(installed)) or "none"
            raise ConfigError(f"config key 'preprocessors': no pre-processor {name!r} is installed (known: {known})")
        factory: Factory = installed[name].load()
        steps.append(factory(settings))
    return steps


def map_user_text(prompt: Prompt, change: Callable[[str], str]) -> Prompt:
    """``prompt`` with ``change`` applied to every user message (or the completion text)."""
    if prompt.text is not None:
        return Prompt(text=change(prompt.text), continuation=prompt.continuation)
    messages = tuple((role, change(text) if role == "user" else text) for role, text in prompt.messages)
    return Prompt(messages=messages, continuation=prompt.continuation)
