"""The tables a config file may repeat: ``[[privacy_rules]]`` and ``[[upstreams]]`` (config.py)."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from edgesplit.schemas import ContinueMode, PrivacyAction, UpstreamScope

__all__ = ["PrivacyRuleConfig", "UpstreamConfig"]


class PrivacyRuleConfig(BaseModel):
    """One ``[[privacy_rules]]`` table: when it matches, the request gets at least ``action``."""

    model_config = ConfigDict(extra="forbid")

    name: str
    action: PrivacyAction
    entity_types: list[str] = []
    pattern: str | None = None
    sources: list[str] = []

    @field_validator("pattern")
    @classmethod
    def _compiles(cls, value: str | None) -> str | None:
        if value is not None:
            re.compile(value)
        return value


class UpstreamConfig(BaseModel):
    """One ``[[upstreams]]`` table: a server this tier may send work up to (edge/upstreams.py).

    ``kind``: ``edgesplit`` (another edgesplit tier: full generation, split and speculative
    sessions, sync, the outbox) or ``openai`` (any OpenAI-compatible server: vLLM, Ollama,
    llama.cpp's server, a hosted API; full generation only). Lower ``priority`` is tried first;
    within a priority, ``upstream_strategy`` balances by ``weight``. ``continues``: how it takes up
    a chat answer another upstream began (mid-stream failover): ``flag`` sends vLLM's
    ``continue_final_message`` (edgesplit tiers, vLLM), ``prefill`` sends the partial answer as a
    final assistant message that the server continues by itself (llama.cpp's ``llama-server``),
    ``none`` never asks it to (the default for ``openai``: llama-cpp-python's server and the
    OpenAI API start a new turn instead)."""

    model_config = ConfigDict(extra="forbid")

    url: str = Field(pattern=r"^https?://")
    name: str = ""  # the metrics label; default: the URL's host:port
    kind: Literal["edgesplit", "openai"] = "edgesplit"
    key_env: str | None = None  # the environment variable holding the bearer token sent to it
    model: str | None = None  # the model name it is asked for; default: upstream_model
    weight: float = Field(default=1.0, gt=0, le=1000)
    priority: int = Field(default=0, ge=0, le=100)
    ca: Path | None = None  # CA bundle its certificate must chain to; default: upstream_ca
    scope: UpstreamScope | None = None  # site: on premises (site-only data may go there); default: upstream_scope
    continues: ContinueMode | None = None  # default: flag for edgesplit, none for openai
    # asked again this many times after a failure before the next upstream: for an address with
    # several servers behind it (a load balancer, Ray Serve's proxy), where a new try reaches
    # another one; default: upstream_retries
    retries: int | None = Field(default=None, ge=0, le=5)

    def continue_mode(self) -> ContinueMode:
        return self.continues or ("flag" if self.kind == "edgesplit" else "none")

    def label(self) -> str:
        return self.name or self.url.split("://", 1)[1].split("/", 1)[0]

    def secret(self) -> str | None:
        """The bearer token from ``key_env`` (checked at start-up), None without one."""
        return os.environ[self.key_env] if self.key_env else None
