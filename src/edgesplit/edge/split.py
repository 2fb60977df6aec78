"""SplitBackend: one model cut in two. The edge runs the embedding and layers [0, k), the upstream the rest.

Per step the edge sends the hidden states of the new positions as a tensor frame (the whole
prompt first, then one token at a time) and gets the next token back. The edge keeps every
frame it sent, so when the upstream has lost the session it opens a new one and re-sends the
prefix in a single frame. Hidden states are raw data for the privacy policy: this backend is
only used for requests whose policy is ``allow``.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import torch

from edgesplit.admission import ModelQueue
from edgesplit.edge.remote_segment import RemoteSegment
from edgesplit.engine.codec import Codec, encode_frame
from edgesplit.engine.model import KVCache, Transformer, new_caches
from edgesplit.errors import UpstreamError
from edgesplit.generation import Finish, GenerationParams, Prompt, TokenEvent, finish_reason
from edgesplit.llama.tokenizer import ChatTokenizer, context_budget
from edgesplit.stops import TokenText
from edgesplit.transport.sessions import session_lost

__all__ = ["SplitBackend"]


@dataclass
class _EdgeHalf:
    """The edge's running state for one generation, with the split point it started with.

    A re-plan changes the backend's ``k`` and ``codec`` for new streams only: a running stream's
    cloud session and caches were sized for its own ``k``."""

    k: int
    codec: Codec
    caches: dict[int, KVCache]
    sent: list[torch.Tensor]  # every frame's hidden states, for re-sending after a lost session
    position: int = 0


class SplitBackend:
    """Serves generations through a split session on the upstream."""

    def __init__(
        self,
        model_name: str,
        model: Transformer,
        tokenizer: ChatTokenizer,
        segment: RemoteSegment,
        k: int,
        codec: Codec,
        queue: ModelQueue,
        n_ctx: int,
    ) -> None:
        if not 0 <= k < model.config.n_layers:
            raise ValueError(f"k={k} is outside [0, {model.config.n_layers - 1}]")
        self.name = "split"
        self.model_name = model_name
        self.model = model
        self.tokenizer = tokenizer
        self.segment = segment
        self.k = k
        self.codec = codec
        self.queue = queue
        self.n_ctx = n_ctx
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="split-edge")

    async def _edge_layers(self, state: _EdgeHalf, tokens: list[int]) -> torch.Tensor:
        """Embedding + layers [0, k) for ``tokens`` at the next positions, in the edge's worker thread."""

        def run() -> torch.Tensor:
            positions = torch.arange(state.position, state.position + len(tokens))
            with torch.inference_mode():
                h = self.model.embed(torch.tensor(tokens))
                return self.model.forward_layers(h, range(state.k), positions, state.caches)

        hidden = await asyncio.get_running_loop().run_in_executor(self._executor, run)
        state.sent.append(hidden)
        state.position += len(tokens)
        return hidden

    async def _open(self, state: _EdgeHalf, params: GenerationParams) -> str:
        body = {
            "model": self.model_name,
            "k": state.k,
            "codec": state.codec,
            "temperature": params.temperature,
            "top_p": params.top_p,
            "seed": params.seed,
        }
        return str((await self.segment.open(body))["id"])

    async def _step(
        self, session: str, state: _EdgeHalf, hidden: torch.Tensor, params: GenerationParams
    ) -> tuple[str, dict[str, Any]]:
        start = state.position - hidden.shape[1]
        try:
            return session, await self.segment.forward(session, encode_frame(hidden, start, state.codec))
        except UpstreamError as exc:
            if not session_lost(exc):
                raise
            self.segment.forget(session)
            session = await self._open(state, params)
            prefix = torch.cat(state.sent, dim=1)
            return session, await self.segment.forward(session, encode_frame(prefix, 0, state.codec))

    async def stream(self, prompt: Prompt, params: GenerationParams) -> AsyncGenerator[TokenEvent | Finish, None]:
        async with self.queue.slot():
            tokens = self.tokenizer.encode(prompt)
            requested = params.max_tokens if params.max_tokens_explicit else None
            max_tokens = context_budget(self.n_ctx, len(tokens), requested, params.max_tokens)
            k, codec = self.k, self.codec  # frozen for this stream (see _EdgeHalf)
            state = _EdgeHalf(k, codec, caches=new_caches(self.model.config, range(k), self.n_ctx), sent=[])
            hidden = await self._edge_layers(state, tokens)
            session = await self._open(state, params)
            text, generated, reason = TokenText(params.stop), 0, "length"
            try:
                while generated < max_tokens:
                    session, reply = await self._step(session, state, hidden, params)
                    token = int(reply["token"])
                    if self.tokenizer.is_end(token):
                        reason = "stop"
                        break
                    generated += 1
                    yield TokenEvent(text=text.add(self.tokenizer.piece(token)), logprob=float(reply["logprob"]))
                    if text.stopped:
                        reason = "stop"
                        break
                    if generated < max_tokens:
                        hidden = await self._edge_layers(state, [token])
                if tail := text.finish():
                    yield TokenEvent(text=tail)
                yield Finish(
                    reason=finish_reason(reason),
                    prompt_tokens=len(tokens),
                    completion_tokens=generated,
                )
            finally:
                await self.segment.close(session)

    async def aclose(self) -> None:
        self._executor.shutdown(wait=False)
