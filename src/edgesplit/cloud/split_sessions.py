"""Split sessions on the cloud: the suffix of a model, [k, N) + head, with a KV cache per session.

An edge opens a session (model, k, codec, sampling), sends frames of hidden states for new
positions, and gets the next token back. Sessions expire ``ttl_s`` after their last use and
the store refuses new ones beyond ``max_cache_bytes`` of KV cache, after dropping expired ones.
An unknown or expired session is a 404 the edge answers by opening a new session and
re-sending its prefix.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field

import torch

from edgesplit.cloud.session_table import SessionTable
from edgesplit.engine.codec import Codec, Frame
from edgesplit.engine.model import KVCache, Transformer, new_caches
from edgesplit.errors import InvalidRequest, NotFound, PositionMismatch, QueueFull

__all__ = ["SessionStore", "SplitSession", "StepResult", "sample"]


@dataclass(frozen=True)
class StepResult:
    position: int  # the position the returned token will occupy
    token: int
    logprob: float


@dataclass
class SplitSession:
    id: str
    model: str
    k: int
    codec: Codec
    caches: dict[int, KVCache]
    temperature: float = 0.0
    top_p: float = 1.0
    generator: torch.Generator | None = None
    next_position: int = 0
    last_used: float = 0.0
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def cache_bytes(self) -> int:
        return sum(cache.nbytes for cache in self.caches.values())


def sample(
    logits: torch.Tensor, temperature: float, top_p: float, generator: torch.Generator | None
) -> tuple[int, float]:
    """One token from (vocab,) logits: greedy at temperature 0, else nucleus sampling. Returns (token, logprob)."""
    logprobs = torch.log_softmax(logits.float(), dim=-1)
    if temperature <= 0:
        token = int(torch.argmax(logprobs))
        return token, float(logprobs[token])
    probs = torch.softmax(logits.float() / temperature, dim=-1)
    sorted_probs, order = torch.sort(probs, descending=True)
    keep = torch.cumsum(sorted_probs, dim=-1) - sorted_probs < top_p
    sorted_probs = torch.where(keep, sorted_probs, torch.zeros_like(sorted_probs))
    choice = torch.multinomial(sorted_probs / sorted_probs.sum(), 1, generator=generator)
    token = int(order[choice])
    return token, float(logprobs[token])


class SessionStore:
    """The cloud's split sessions for one model (thread-safe)."""

    def __init__(
        self,
        model_name: str,
        model: Transformer,
        ttl_s: float = 300.0,
        max_cache_bytes: int = 2 * 1024**3,
        max_positions: int = 2048,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.model_name = model_name
        self.model = model
        self.max_cache_bytes = max_cache_bytes
        self.max_positions = max_positions
        self.sessions: SessionTable[SplitSession] = SessionTable("split", ttl_s, clock)
        self.steps = 0  # forward calls served, for capacity measurements
        self.busy_s = 0.0  # compute time spent in steps (cloud capacity = tokens per busy second)

    @property
    def ttl_s(self) -> float:
        return self.sessions.ttl_s

    @property
    def n_layers(self) -> int:
        return self.model.config.n_layers

    def open(
        self, model: str, k: int, codec: Codec, temperature: float, top_p: float, seed: int | None
    ) -> SplitSession:
        if model not in (self.model_name, "default"):
            raise NotFound(
                f"split model {model!r} is not served here; this node serves {self.model_name!r}",
                param="model",
                code="model_not_found",
            )
        if not 0 <= k < self.n_layers:
            raise InvalidRequest(
                f"k must be in [0, {self.n_layers - 1}] for this {self.n_layers}-layer model", param="k"
            )
        caches = new_caches(self.model.config, range(k, self.n_layers), self.max_positions)
        session = SplitSession(
            id=f"split_{uuid.uuid4().hex}",
            model=self.model_name,
            k=k,
            codec=codec,
            caches=caches,
            temperature=temperature,
            top_p=top_p,
            generator=torch.Generator().manual_seed(seed) if seed is not None else None,
            last_used=self.sessions.clock(),
        )

        def within_cache_cap(live: list[SplitSession]) -> None:
            used = sum(s.cache_bytes for s in live)
            if used + session.cache_bytes > self.max_cache_bytes:
                raise QueueFull(
                    f"split sessions use {used} of {self.max_cache_bytes} KV-cache bytes; try again later",
                    retry_after_s=5,
                )

        return self.sessions.add(session, within_cache_cap)

    def get(self, session_id: str) -> SplitSession:
        return self.sessions.get(session_id)

    def close(self, session_id: str) -> None:
        self.sessions.close(session_id)

    def __len__(self) -> int:
        return len(self.sessions)

    @torch.inference_mode()
    def step(self, session: SplitSession, frame: Frame) -> StepResult:
        """Run layers [k, N) and the head over a frame for the session's next positions; sample one token."""
        with session.lock:
            started = time.perf_counter()
            if frame.start_position != session.next_position:
                raise PositionMismatch(session.next_position, frame.start_position)
            end = frame.start_position + frame.hidden.shape[1]
            if end > self.max_positions:
                raise InvalidRequest(f"session is full: {self.max_positions} positions", param="frame")
            layers = range(session.k, self.n_layers)
            h = self.model.forward_layers(frame.hidden, layers, frame.positions, session.caches)
            logits = self.model.logits(h[:, -1:])[0, -1]
            token, logprob = sample(logits, session.temperature, session.top_p, session.generator)
            session.next_position = end
            self.steps += 1
            self.busy_s += time.perf_counter() - started
            return StepResult(position=end, token=token, logprob=logprob)
