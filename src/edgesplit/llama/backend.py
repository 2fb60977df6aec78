"""LocalBackend: full generation with llama.cpp on this node's own model.

llama.cpp runs in one dedicated worker thread per model (the context is not thread-safe);
tokens cross to the event loop through an asyncio queue. Each token's log-probability is
read from the raw logits it was sampled from, so confidence does not depend on temperature.
Every generation evaluates its prompt from an empty cache, so the same request gets the same
greedy answer whatever ran before it (speculative decoding is checked against exactly that).
"""

from __future__ import annotations

import asyncio
import random
import threading
from collections.abc import AsyncGenerator, Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from edgesplit.admission import ModelQueue
from edgesplit.errors import ModelError
from edgesplit.generation import Finish, GenerationParams, Prompt, PromptState, TokenEvent, finish_reason
from edgesplit.llama.runtime import open_llama
from edgesplit.llama.scoring import continuation_logprobs, token_logprobs
from edgesplit.llama.tokenizer import ChatTokenizer, context_budget
from edgesplit.models import locate_model
from edgesplit.stops import TokenText

if TYPE_CHECKING:
    from edgesplit.config import Settings
    from edgesplit.metrics import NodeMetrics

__all__ = ["DraftToken", "Gate", "LocalBackend"]

# Called in the worker thread once the prompt is evaluated; False stops before the first token.
Gate = Callable[[PromptState], bool]

_DONE = object()


@dataclass(frozen=True)
class DraftToken:
    """One greedy token the model proposes (for speculative decoding): its bytes and log-probability."""

    piece: bytes
    logprob: float
    end: bool = False  # the model's end-of-generation token (piece is empty)
    id: int = -1  # the token id in the drafting model's vocabulary (-1: a test double's text-only draft)


class LocalBackend:
    """A GGUF model served by llama-cpp-python, one sequence at a time behind a fair queue."""

    def __init__(self, name: str, model_path: Path, queue: ModelQueue, n_ctx: int = 2048, n_threads: int = 2) -> None:
        self.name = name
        self.queue = queue
        self.n_ctx = n_ctx
        self._llm = open_llama(str(model_path), n_ctx, n_threads)
        self.tokenizer = ChatTokenizer(self._llm, model_path.name)
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"llama-{name}")
        self._last_tokens: tuple[Prompt, tuple[int, ...]] | None = None

    @classmethod
    def for_node(cls, settings: Settings, metrics: NodeMetrics) -> LocalBackend:
        """The node's own model (``settings.model``) behind its fair queue, whose depth feeds ``metrics``."""
        name = settings.served_model
        queue = ModelQueue(name, settings.queue_max_waiting, settings.queue_retry_after_s, metrics.set_queue)
        path = locate_model(settings.model, settings.model_sha256)
        return cls(name, path, queue, settings.n_ctx, settings.n_threads)

    @property
    def hidden_dim(self) -> int:
        """Width of the hidden state a gate receives."""
        return int(self._llm.n_embd())

    def render(self, prompt: Prompt) -> str:
        """The exact text fed to the model (see :meth:`ChatTokenizer.render`)."""
        return self.tokenizer.render(prompt)

    def tokenize(self, prompt: Prompt) -> list[int]:
        """The prompt's tokens. The last prompt's are kept: the learned router tokenizes a request
        before it decides, and generating it must not render and tokenize it a second time."""
        last = self._last_tokens
        if last is not None and last[0] is prompt:
            return list(last[1])
        tokens = self.tokenizer.encode(prompt)
        self._last_tokens = (prompt, tuple(tokens))
        return tokens

    def budget(self, prompt_tokens: int, requested: int | None, default: int) -> int:
        """max_tokens for this request; raises ContextOverflow when the prompt leaves no room."""
        return context_budget(self.n_ctx, prompt_tokens, requested, default)

    async def stream(
        self, prompt: Prompt, params: GenerationParams, gate: Gate | None = None
    ) -> AsyncGenerator[TokenEvent | Finish, None]:
        """Generate; with ``gate``, the prompt's hidden state is read after the prompt is
        evaluated and ``gate(state)`` decides whether to go on (False: Finish with no tokens)."""
        async with self.queue.slot():
            tokens = self.tokenize(prompt)
            requested = params.max_tokens if params.max_tokens_explicit else None
            params = replace(params, max_tokens=self.budget(len(tokens), requested, params.max_tokens))
            loop = asyncio.get_running_loop()
            events: asyncio.Queue[Any] = asyncio.Queue()
            cancel = threading.Event()

            def emit(item: object) -> None:
                loop.call_soon_threadsafe(events.put_nowait, item)

            worker = loop.run_in_executor(self._executor, self._generate, tokens, params, emit, cancel, gate)
            try:
                while (item := await events.get()) is not _DONE:
                    if isinstance(item, BaseException):
                        raise item
                    yield item
            finally:
                cancel.set()
                await asyncio.shield(worker)

    @property
    def vocab_fingerprint(self) -> str:
        """Identifies this model's vocabulary (see :attr:`ChatTokenizer.vocab_fingerprint`)."""
        return self.tokenizer.vocab_fingerprint

    async def draft(self, prompt: Prompt, n: int, after: Sequence[int] = ()) -> list[DraftToken]:
        """Up to ``n`` greedy tokens continuing ``prompt`` (its continuation is the answer so far),
        then ``after``: answer tokens given as ids (a verifier with this vocabulary sent them).

        Successive drafts of one answer share their prefix, which llama.cpp keeps cached, so a
        draft costs only the tokens that are new since the last one.
        """
        async with self.queue.slot():
            tokens = self.tokenize(prompt) + list(after)
            room = self.n_ctx - len(tokens)
            if room <= 0:
                return []
            loop = asyncio.get_running_loop()
            return await loop.run_in_executor(self._executor, self._draft, tokens, min(n, room))

    async def score(self, prompt: Prompt, answer: str) -> list[float]:
        """Per-token log-probabilities of ``answer`` after ``prompt`` under this model (one prefill;
        see llama/scoring.py): a lower tier's answer, read by this tier."""
        async with self.queue.slot():
            prompt_ids = self.tokenize(prompt)
            answer_ids = self.tokenizer.tokens(answer)
            if len(prompt_ids) + len(answer_ids) > self.n_ctx:
                answer_ids = answer_ids[: max(0, self.n_ctx - len(prompt_ids))]
            loop = asyncio.get_running_loop()
            return await loop.run_in_executor(self._executor, continuation_logprobs, self._llm, prompt_ids, answer_ids)

    def _draft(self, tokens: list[int], n: int) -> list[DraftToken]:
        llm = self._llm
        n_vocab = llm.n_vocab()
        out: list[DraftToken] = []
        for token in llm.generate(tokens, temp=0.0, top_k=1, top_p=1.0, min_p=0.0, repeat_penalty=1.0):
            logits = np.ctypeslib.as_array(llm._ctx.get_logits_ith(-1), shape=(n_vocab,))
            logprob, _ = token_logprobs(logits, token, 0, self._piece)
            if self.tokenizer.is_end(token):
                out.append(DraftToken(b"", logprob, end=True, id=int(token)))
                break
            out.append(DraftToken(self.tokenizer.piece(token), logprob, id=int(token)))
            if len(out) >= n:
                break
        return out

    def _generate(
        self, tokens: list[int], params: GenerationParams, emit: Any, cancel: threading.Event, gate: Gate | None
    ) -> None:
        """Worker-thread body: sample until EOG, a stop sequence, max_tokens or cancellation."""
        try:
            finish = self._sample_loop(tokens, params, emit, cancel, gate)
            emit(finish)
        except Exception as exc:
            emit(exc)
        finally:
            emit(_DONE)

    def _sample_loop(
        self, tokens: list[int], params: GenerationParams, emit: Any, cancel: threading.Event, gate: Gate | None
    ) -> Finish:
        llm = self._llm
        llm.set_seed(params.seed if params.seed is not None else random.getrandbits(31))
        # Evaluate the prompt from position 0: llama.cpp's logits depend on how positions were
        # batched, so a cached prefix would make a greedy answer depend on the previous request.
        llm.reset()  # type: ignore[no-untyped-call]
        # Hidden states are read only when asked: llama.cpp then outputs every prompt position,
        # which costs the output layer once per prompt token (measured in bench/router.py).
        self._set_embeddings(gate is not None)
        text = TokenText(params.stop)
        n_vocab = llm.n_vocab()
        generated = 0
        reason: str = "length"
        for token in llm.generate(
            tokens,
            temp=params.temperature,
            top_p=params.top_p,
            top_k=0,
            min_p=0.0,
            repeat_penalty=1.0,
            presence_penalty=params.presence_penalty,
            frequency_penalty=params.frequency_penalty,
        ):
            if cancel.is_set():
                break
            if gate is not None:
                state = PromptState(hidden=self._last_hidden(), tokens=tuple(tokens))
                self._set_embeddings(False)
                go_on = gate(state)
                gate = None
                if not go_on:
                    break
            if self.tokenizer.is_end(token):
                reason = "stop"
                break
            logits = np.ctypeslib.as_array(llm._ctx.get_logits_ith(-1), shape=(n_vocab,))
            logprob, top = token_logprobs(logits, token, params.top_logprobs, self._piece)
            generated += 1
            emit(TokenEvent(text=text.add(llm.detokenize([token])), logprob=logprob, top_logprobs=top))
            if text.stopped:
                reason = "stop"
                break
            if generated >= params.max_tokens:
                break
        if tail := text.finish():
            emit(TokenEvent(text=tail))
        return Finish(reason=finish_reason(reason), prompt_tokens=len(tokens), completion_tokens=generated)

    def _set_embeddings(self, on: bool) -> None:
        import llama_cpp

        llama_cpp.llama_set_embeddings(self._llm._ctx.ctx, on)

    def _last_hidden(self) -> np.ndarray:
        import llama_cpp

        n_embd = self._llm.n_embd()
        pointer = llama_cpp.llama_get_embeddings_ith(self._llm._ctx.ctx, -1)
        if not pointer:
            raise ModelError("llama.cpp returned no hidden state for the prompt")
        return np.ctypeslib.as_array(pointer, shape=(n_embd,)).astype(np.float32)

    def _piece(self, token: int) -> str:
        return self._llm.detokenize([token]).decode("utf-8", errors="replace")

    def close(self) -> None:
        self._executor.shutdown(wait=True)
        self._llm.close()
