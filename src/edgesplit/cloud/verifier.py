"""Verify sessions on the cloud: the big model checks the edge's drafts and keeps its KV cache in step.

A session holds one generation's context in the cloud model's own tokens. Drafts arrive as
**token ids** when the drafter's vocabulary is this model's (same fingerprint: a smaller version
of the same model), checked as they are; otherwise as **text** (another tokenizer), which the
verifier tokenizes in context (see :mod:`edgesplit.speculation.align`). It checks the draft
against its own greedy choice, keeps the longest matching prefix, adds its own next token
(returned as text and as ids) and rolls the cache back past the rejected rest.

Two ways to check a draft, both greedy:

- ``exact`` (default): the draft's tokens go through the model one at a time, stopping at the
  first mismatch. Every logit comes from the same single-token kernels plain decoding uses, so
  the output is bit-for-bit the cloud's plain greedy output. One round trip per block, one
  forward pass per kept token.
- ``batched``: the whole block in one forward pass (the textbook form, fewer passes per token).
  llama.cpp's batched kernels round differently from its single-token ones (measured: up to
  0.6 in the logits on Qwen2.5-1.5B Q4_K_M), so where the cloud's own top two are that close
  the answer can differ from token-by-token greedy decoding. ``bench/speculative.py`` counts it.

``commit`` text (the uncertainty-skip mode) is appended without checking, but the verifier
still reports how many of those tokens match its own greedy choice.

llama.cpp's logits depend on how the positions were batched (a prompt evaluated in one batch
rounds differently from the same prompt evaluated from a cached prefix), so ``exact`` keeps
plain decoding's schedule: a new session evaluates its prompt from position 0 in one batch,
then one token at a time. One llama.cpp context serves every session, one call at a time; when
another session needs it, the current owner's KV cache is parked in memory
(``llama_state_seq_get_data``, about 28 KB per token on Qwen2.5-1.5B) and restored when it
calls again, so interleaved sessions neither re-evaluate nor change their numbers.
"""

from __future__ import annotations

import ctypes
import threading
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np

from edgesplit.cloud.session_table import SessionTable
from edgesplit.errors import InvalidRequest, NotFound, QueueFull
from edgesplit.generation import Prompt
from edgesplit.llama.runtime import open_llama
from edgesplit.llama.tokenizer import ChatTokenizer, context_budget
from edgesplit.schemas import VerifyMode
from edgesplit.speculation.align import align_draft, split_complete_utf8

__all__ = ["TIE_TOLERANCE", "Verifier", "VerifyResult", "VerifySession"]

# The batched contract: a batched answer equals plain greedy decoding except at a position where
# plain decoding's top-2 logits are closer than this. Measured by bench/verify_ties.py.
TIE_TOLERANCE = 1.0


@dataclass(frozen=True)
class VerifyResult:
    text: str  # new answer text after the commit (complete UTF-8 only): accepted draft + the cloud's own token
    tokens: int  # new answer tokens (cloud tokenizer)
    ids: list[int]  # those tokens' ids (commit, accepted draft, the cloud's own token)
    drafted: int  # draft tokens checked
    accepted: int  # draft tokens kept
    committed: int  # tokens appended without checking (skip mode)
    committed_agreed: int  # of those, how many equal the cloud's greedy choice
    passes: int  # model forward passes this call ran
    evaluated: int  # tokens those passes evaluated
    verify_ms: float  # compute time of this call
    finished: bool
    finish_reason: Literal["stop", "length"] | None


@dataclass
class VerifySession:
    id: str
    tokens: list[int]  # prompt + answer so far, in the cloud model's tokens
    prompt_len: int
    max_tokens: int
    mode: VerifyMode
    last_used: float
    pending: bytes = b""  # the start of a UTF-8 character whose remaining bytes come with a later token
    finished: bool = False
    finish_reason: Literal["stop", "length"] | None = None
    parked: tuple[Any, int] | None = None  # (KV state, positions) while another session has the context
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def generated(self) -> list[int]:
        return self.tokens[self.prompt_len :]


class Verifier:
    """A GGUF model that verifies drafts for many sessions (thread-safe; one forward at a time)."""

    def __init__(
        self,
        model_name: str,
        model_path: Path,
        n_ctx: int = 2048,
        n_threads: int = 2,
        ttl_s: float = 300.0,
        max_sessions: int = 64,
        max_draft_tokens: int = 128,  # commit + draft per call, in this model's tokens
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.model_name = model_name
        self.n_ctx = n_ctx
        self.max_sessions = max_sessions
        self.max_draft_tokens = max_draft_tokens
        # A session leaving the table (closed or expired) drops its parked KV cache.
        self.sessions: SessionTable[VerifySession] = SessionTable("speculative", ttl_s, clock, _unpark)
        # logits_all: a row of logits for every evaluated position, which verification reads.
        self._llm = open_llama(str(model_path), n_ctx, n_threads, logits_all=True)
        self.tokenizer = ChatTokenizer(self._llm, model_path.name)
        self.vocab_fingerprint = self.tokenizer.vocab_fingerprint  # at start: sessions answer with it
        self._model_lock = threading.Lock()  # the llama.cpp context
        self._owner: VerifySession | None = None  # the session whose KV cache the context holds
        # One thread runs every forward pass: llama.cpp's OpenMP keeps a thread team per calling
        # thread, and idle teams spinning next to the busy one cost about 2x per token on 2 cores.
        self.executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"verify-{model_name}")
        self.passes = 0
        self.busy_s = 0.0

    # -- sessions ---------------------------------------------------------------------------

    def open(
        self,
        model: str,
        prompt: Prompt,
        max_tokens: int | None,
        default_max_tokens: int = 256,
        mode: VerifyMode = "exact",
        continuation_ids: list[int] | None = None,
    ) -> VerifySession:
        """A session for ``prompt``; ``continuation_ids`` are answer tokens already verified (a re-open
        in token ids: re-tokenizing their text could number them differently)."""
        if model not in (self.model_name, "default"):
            raise NotFound(
                f"speculative model {model!r} is not served here; this node serves {self.model_name!r}",
                param="model",
                code="model_not_found",
            )
        tokens = self.tokenizer.encode(prompt) + self._checked_ids(continuation_ids or [], "continuation_ids")
        budget = context_budget(self.n_ctx, len(tokens), max_tokens, default_max_tokens)
        session = VerifySession(
            id=f"spec_{uuid.uuid4().hex}",
            tokens=tokens,
            prompt_len=len(tokens),
            max_tokens=budget,
            mode=mode,
            last_used=self.sessions.clock(),
        )

        def below_cap(live: list[VerifySession]) -> None:
            if len(live) >= self.max_sessions:
                raise QueueFull(f"{self.max_sessions} speculative sessions are open; try again later", retry_after_s=5)

        return self.sessions.add(session, below_cap)

    @property
    def ttl_s(self) -> float:
        return self.sessions.ttl_s

    def get(self, session_id: str) -> VerifySession:
        return self.sessions.get(session_id)

    def close(self, session_id: str) -> None:
        self.sessions.close(session_id)

    def __len__(self) -> int:
        return len(self.sessions)

    # -- verification -----------------------------------------------------------------------

    def _checked_ids(self, ids: list[int], param: str) -> list[int]:
        size = self.tokenizer.n_vocab
        if any(not 0 <= t < size for t in ids):
            raise InvalidRequest(f"{param}: token ids must be in [0, {size})", param=param, code="invalid_token_id")
        return ids

    def verify(
        self,
        session: VerifySession,
        draft: str,
        commit: str = "",
        draft_ids: list[int] | None = None,
        commit_ids: list[int] | None = None,
    ) -> VerifyResult:
        """Append ``commit`` unchecked, keep the longest greedy-matching prefix of ``draft``, add one token.

        With ``draft_ids`` (and ``commit_ids``) the draft is this model's token ids, checked without
        tokenizing; the text arguments are then only what the edge has shown (for the reply's text)."""
        with session.lock:
            if session.finished:
                raise InvalidRequest(
                    f"speculative session {session.id} has finished ({session.finish_reason}); close it",
                    param="session_id",
                    code="session_finished",
                )
            if draft_ids is None and commit_ids is None:
                commit_ids, draft_ids = self._align(session, commit, draft)
            else:
                commit_ids = self._checked_ids(commit_ids or [], "commit_ids")
                draft_ids = self._checked_ids(draft_ids or [], "draft_ids")
            if len(commit_ids) + len(draft_ids) > self.max_draft_tokens:
                raise InvalidRequest(
                    f"commit + draft is {len(commit_ids) + len(draft_ids)} tokens; the limit is "
                    f"{self.max_draft_tokens}",
                    param="draft",
                    code="draft_too_long",
                )
            with self._model_lock:
                self._activate(session)
                started = time.perf_counter()
                passes_before = self.passes
                outcome = self._check(session, commit_ids, draft_ids)
                elapsed = time.perf_counter() - started
                self.busy_s += elapsed
            return self._commit(session, outcome, commit, len(draft_ids), self.passes - passes_before, elapsed)

    def _align(self, session: VerifySession, commit: str, draft: str) -> tuple[list[int], list[int]]:
        """Cloud token ids of the commit and draft text, continuing the session's answer."""
        pending = session.pending
        if not (commit + draft).encode("utf-8").startswith(pending):
            return [], []  # the edge's text does not complete the character the cloud's last token began
        commit_bytes, draft_bytes = commit.encode("utf-8"), draft.encode("utf-8")
        if commit_bytes:
            commit_bytes = commit_bytes[len(pending) :]
        else:
            draft_bytes = draft_bytes[len(pending) :]
        # The commit is taken whole (the client has seen it); the draft continues after it.
        commit_ids = align_draft(self.tokenizer, session.generated, commit_bytes)
        return commit_ids, align_draft(self.tokenizer, session.generated + commit_ids, draft_bytes)

    def _activate(self, session: VerifySession) -> None:
        """Give the context to ``session``: park the owner's KV cache, restore the session's (or start empty)."""
        if self._owner is session:
            return
        import llama_cpp

        llm, ctx = self._llm, self._llm._ctx
        owner = self._owner
        if owner is not None and owner.id in self.sessions:
            ctx.kv_cache_seq_rm(-1, llm.n_tokens, -1)  # drop rolled-back cells before copying
            size = llama_cpp.llama_state_seq_get_size(ctx.ctx, 0)
            buffer = (ctypes.c_uint8 * size)()
            llama_cpp.llama_state_seq_get_data(ctx.ctx, buffer, size, 0)
            owner.parked = (buffer, llm.n_tokens)
        ctx.kv_cache_clear()  # type: ignore[no-untyped-call]
        llm.n_tokens = 0
        if session.parked is not None:
            buffer, positions = session.parked
            if llama_cpp.llama_state_seq_set_data(ctx.ctx, buffer, len(buffer), 0):
                llm.input_ids[:positions] = session.tokens[:positions]
                llm.n_tokens = positions
            else:  # pragma: no cover - llama.cpp refused its own state: evaluate from scratch
                ctx.kv_cache_clear()  # type: ignore[no-untyped-call]
            session.parked = None
        self._owner = session

    def _sync(self, tokens: list[int]) -> int:
        """Evaluate what the context lacks of ``tokens`` (it holds a prefix of them); returns how many."""
        llm = self._llm
        cached = min(llm.n_tokens, len(tokens) - 1)  # the last row's logits are needed
        llm.n_tokens = cached
        self._eval(tokens[cached:])
        return len(tokens) - cached

    def _eval(self, tokens: list[int]) -> None:
        self._llm.eval(tokens)
        self.passes += -(-len(tokens) // self._llm.n_batch)

    def _greedy(self, position: int) -> int:
        """The model's greedy choice for the token after ``position`` (its logits row)."""
        return int(np.argmax(self._llm.scores[position]))

    def _check(self, session: VerifySession, commit_ids: list[int], draft_ids: list[int]) -> _Outcome:
        tokens = session.tokens
        base = len(tokens)
        room = session.max_tokens - len(session.generated)
        commit_ids = commit_ids[:room]
        draft_ids = draft_ids[: max(0, room - len(commit_ids))]
        if session.mode == "batched":
            evaluated = self._sync(tokens + commit_ids + draft_ids)
            agreed = sum(self._greedy(base - 1 + i) == t for i, t in enumerate(commit_ids))
            offset = base + len(commit_ids)
            accepted = 0
            while accepted < len(draft_ids) and self._greedy(offset - 1 + accepted) == draft_ids[accepted]:
                accepted += 1
            following = self._greedy(offset - 1 + accepted)
            self._llm.n_tokens = offset + accepted  # roll back past the rejected draft tokens
        else:
            evaluated = self._sync(tokens)
            agreed, position = 0, base
            for token in commit_ids:
                agreed += self._greedy(position - 1) == token
                self._eval([token])
                position += 1
            accepted = 0
            for token in draft_ids:
                if self._greedy(position - 1) != token:
                    break
                accepted += 1
                if self.tokenizer.is_end(token):
                    break
                self._eval([token])
                position += 1
            following = self._greedy(position - 1)
            evaluated += len(commit_ids) + accepted
        return _Outcome(commit_ids, agreed, draft_ids[:accepted], following, evaluated)

    def _commit(
        self, session: VerifySession, outcome: _Outcome, commit: str, drafted: int, passes: int, elapsed: float
    ) -> VerifyResult:
        new: list[int] = []
        finish: Literal["stop", "length"] | None = None
        for token in [*outcome.commit, *outcome.accepted, outcome.following]:
            if self.tokenizer.is_end(token):
                finish = "stop"
                break
            new.append(token)
            if len(session.generated) + len(new) >= session.max_tokens:
                finish = "length"
                break
        session.tokens.extend(new)
        data = session.pending + b"".join(self.tokenizer.piece(t) for t in new)
        if finish is not None:
            text, session.pending = data.decode("utf-8", errors="replace"), b""
            session.finished, session.finish_reason = True, finish
        else:
            text, session.pending = split_complete_utf8(data)
        if text.startswith(commit):  # the edge has shown the commit already
            text = text[len(commit) :]
        elif commit.startswith(text):  # the budget ended inside the commit
            text = ""
        return VerifyResult(
            text=text,
            tokens=len(new),
            ids=new,
            drafted=drafted,
            accepted=len(outcome.accepted),
            committed=len(outcome.commit),
            committed_agreed=outcome.agreed,
            passes=passes,
            evaluated=outcome.evaluated,
            verify_ms=elapsed * 1000,
            finished=finish is not None,
            finish_reason=finish,
        )

    def close_model(self) -> None:
        self.executor.shutdown(wait=True)
        self._llm.close()


def _unpark(session: VerifySession) -> None:
    session.parked = None


@dataclass(frozen=True)
class _Outcome:
    commit: list[int]
    agreed: int
    accepted: list[int]
    following: int
    evaluated: int
