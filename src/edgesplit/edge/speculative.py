"""SpeculativeBackend: the edge model drafts, the upstream's model verifies, the answer is the upstream's.

Each round the edge drafts g tokens greedily with its own model, sends them as text to a verify
session upstream, and gets back the text the verifier kept plus its own next token. With greedy
verification the answer is exactly what the upstream model would have written alone; the edge
only decides how many round trips and verifier passes it takes. g adapts to the measured
acceptance rate and round trip (:class:`GammaController`).

**Pipelined drafting** (``pipeline``, lossless): while a verify round trip is in flight, the
drafter goes on as if the whole draft were kept: its first token is its guess of the verifier's
own next token, the rest the next draft. If the verifier keeps the whole draft and its own token
is that guess, the next draft is ready when the reply arrives; otherwise it is thrown away and
the edge drafts from what the verifier sent. ``SpeculativeStats.pipelined`` and
``pipelined_kept`` count how often the pre-drafted block survives.

**Uncertainty-skip** (``skip_threshold`` p, per request): edge tokens whose probability is at
least p go to the client at once, unverified, and are sent upstream as ``commit`` text with the
next draft (so the verifier's context stays complete); only where the edge is unsure does it
ask. Fewer uploads, not lossless: the verifier reports how many committed tokens it would have
chosen itself, and the route metadata says the answer may differ from the upstream's.

**Token ids or text.** When the drafter's vocabulary fingerprint equals the verifier's (a
smaller version of the same model: Qwen2.5-Coder-0.5B drafting for 1.5B), drafts go up as token
ids and the verifier's tokens come back as ids: nothing is re-tokenized on either side, and the
drafter continues from exactly the verifier's tokens. Otherwise drafts and answers are text, so
the two models need not share a tokenizer: the drafter re-reads the answer so far with its own
tokenizer each round (llama.cpp keeps the common prefix cached). A lost session (expired,
upstream restarted) is re-opened with the answer so far (as ids, or as text) and the round is
retried once.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import AsyncGenerator, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from edgesplit.edge.remote_verifier import RemoteVerifier
from edgesplit.errors import UpstreamError
from edgesplit.generation import Finish, GenerationParams, Prompt, TokenEvent, finish_reason
from edgesplit.llama.backend import DraftToken
from edgesplit.schemas import VerifyChoice
from edgesplit.speculation.gamma import GammaController
from edgesplit.stops import TokenText
from edgesplit.transport.sessions import session_lost

__all__ = ["VERIFY_REASONS", "Drafter", "SpeculativeBackend", "SpeculativeStats"]

VERIFY_REASONS = {
    "exact": "edge drafts, cloud verifies: greedy, the cloud model's exact output",
    "batched": "edge drafts, cloud verifies in blocks: the cloud model's greedy output except where its top two "
    "tokens are a near-tie (logits within TIE_TOLERANCE)",
    "auto": "edge drafts, cloud verifies: the cloud model's exact greedy output, or in blocks for a drafter of the "
    "cloud's own vocabulary (then equal except at near-ties of its top two logits)",
}

_SKIP_EXTRA = 4  # skip mode drafts this many tokens past the draft length, to find sure runs
_MAX_UNVERIFIED = 32  # skip mode: ask the verifier at least this often (edge tokens)


class Drafter(Protocol):
    """Proposes greedy continuations: the edge's :class:`LocalBackend` (or a test double).

    ``vocab_fingerprint`` is None for a drafter whose tokens carry no ids (text only)."""

    @property
    def vocab_fingerprint(self) -> str | None: ...

    async def draft(self, prompt: Prompt, n: int, after: Sequence[int] = ()) -> list[DraftToken]: ...


@dataclass
class SpeculativeStats:
    """What one generation cost: uploads, verifier passes, acceptance."""

    rounds: int = 0  # verify calls (uploads)
    tokens: int = 0  # answer tokens (the verifier's tokenizer; edge tokens for an unverified ending)
    drafted: int = 0
    accepted: int = 0
    committed: int = 0  # skip mode: tokens sent unverified
    committed_agreed: int = 0  # of those, the verifier's own greedy choice
    local_tokens: int = 0  # skip mode: unverified edge tokens the verifier never saw (answer ended first)
    passes: int = 0  # verifier forward passes
    verify_ms: float = 0.0
    draft_ms: float = 0.0
    reopened: int = 0
    token_ids: bool = False  # drafts went up as token ids (the drafter shares the verifier's vocabulary)
    pipelined: int = 0  # rounds whose next draft was drafted while the verify call was in flight
    pipelined_kept: int = 0  # of those, how many the reply confirmed (used as the next draft)
    verify: str = ""  # how the verifier checked them: exact or batched
    gammas: list[int] = field(default_factory=list)

    @property
    def acceptance(self) -> float | None:
        return self.accepted / self.drafted if self.drafted else None


@dataclass
class _Answer:
    verified: str = ""  # text the verifier holds
    unverified_bytes: bytes = b""  # skip mode: edge tokens already shown, not yet sent
    unverified_tokens: int = 0
    round_draft_ms: float = 0.0  # edge drafting time since the last verify call
    round_drafted: int = 0  # edge tokens drafted since the last verify call
    by_id: bool = False  # token-id mode: ``ids`` is the verified answer in the verifier's own tokens
    ids: list[int] = field(default_factory=list)
    unverified_ids: list[int] = field(default_factory=list)
    ready: list[DraftToken] | None = None  # pipelining: the next draft, confirmed by the last reply

    @property
    def unverified(self) -> str:
        return self.unverified_bytes.decode("utf-8", errors="ignore")  # a trailing partial character waits


class SpeculativeBackend:
    """Greedy generation by the upstream's model, drafted by the edge's."""

    def __init__(
        self,
        drafter: Drafter,
        verifier: RemoteVerifier,
        model: str,
        mode: VerifyChoice = "auto",
        max_gamma: int = 8,
        on_stats: Callable[[SpeculativeStats], None] = lambda _: None,
        pipeline: bool = True,
    ) -> None:
        self.name = "speculative"
        self.drafter = drafter
        self.verifier = verifier
        self.model = model
        self.mode = mode
        self.gamma = GammaController(max_gamma=max_gamma, batched=mode == "batched")  # auto: set per session
        self.on_stats = on_stats  # each finished generation's stats (the edge feeds /metrics)
        self.pipeline = pipeline  # draft the next block while a verify call is in flight

    async def stream(self, prompt: Prompt, params: GenerationParams) -> AsyncGenerator[TokenEvent | Finish, None]:
        stats = SpeculativeStats()
        try:
            async for event in self.stream_with_stats(prompt, params, stats):
                yield event
        finally:
            self.on_stats(stats)

    async def stream_with_stats(
        self, prompt: Prompt, params: GenerationParams, stats: SpeculativeStats
    ) -> AsyncGenerator[TokenEvent | Finish, None]:
        opened = await self._open(prompt, params, "")
        session, prompt_tokens = str(opened["id"]), int(opened["prompt_tokens"])
        budget = int(opened["max_tokens"])
        stats.verify = str(opened.get("verify", self.mode))
        self.gamma.batched = stats.verify == "batched"
        by_id = self.drafter.vocab_fingerprint is not None and self.drafter.vocab_fingerprint == opened.get("vocab")
        text, answer, reason = TokenText(params.stop), _Answer(by_id=by_id), "length"
        stats.token_ids = by_id
        try:
            while stats.tokens + answer.unverified_tokens < budget and not text.stopped:
                commit, draft, ended = await self._next_draft(prompt, params, answer, stats)
                for piece in commit:  # skip mode: confident edge tokens go out unverified
                    yield TokenEvent(text=text.add(piece.piece), logprob=piece.logprob)
                    answer.unverified_bytes += piece.piece
                    answer.unverified_tokens += 1
                    answer.unverified_ids.append(piece.id)
                if ended and not draft:  # skip mode: the edge is sure the answer ends here
                    reason = "stop"
                    break
                if commit and not draft and answer.unverified_tokens < _MAX_UNVERIFIED:
                    continue  # skip mode, all sure so far: keep drafting (the loop ends at the budget)
                ahead = self._draft_ahead(prompt, params, answer, draft)
                try:
                    session, reply = await self._verify(session, prompt, params, answer, draft, stats)
                except BaseException:
                    if ahead is not None:  # let the drafter finish; its error, if any, is not the one to report
                        await asyncio.gather(ahead, return_exceptions=True)
                    raise
                guess = await ahead if ahead is not None else None
                if guess:
                    stats.pipelined += 1
                    if _confirmed(reply, draft, guess[0], answer.by_id):
                        answer.ready = [t for t in guess[1:] if not t.end]
                        stats.pipelined_kept += 1
                answer.verified += answer.unverified + reply["text"]
                answer.unverified_bytes, answer.unverified_tokens = b"", 0
                if answer.by_id:
                    answer.ids.extend(int(t) for t in reply["ids"])  # the commit's ids come back first
                answer.unverified_ids = []
                if reply["text"]:
                    yield TokenEvent(text=text.add(reply["text"].encode("utf-8")))
                if reply["finished"]:
                    reason = str(reply["finish_reason"])
                    break
            if answer.unverified_tokens:  # skip mode: shown, never verified (budget or stop reached)
                stats.local_tokens += answer.unverified_tokens
                stats.tokens += answer.unverified_tokens
            if text.stopped:
                reason = "stop"
            if tail := text.finish():
                yield TokenEvent(text=tail)
            yield Finish(
                reason=finish_reason(reason),
                prompt_tokens=prompt_tokens,
                completion_tokens=stats.tokens,
            )
        finally:
            await self.verifier.close(session)

    async def _next_draft(
        self, prompt: Prompt, params: GenerationParams, answer: _Answer, stats: SpeculativeStats
    ) -> tuple[list[DraftToken], list[DraftToken], bool]:
        """(unverified tokens to show now, draft to verify, skip mode: the edge is sure the answer ends)."""
        skip = params.skip_threshold
        if answer.ready is not None:  # pipelining: drafted during the last round trip, and confirmed
            tokens, answer.ready = answer.ready, None
            stats.gammas.append(len(tokens))
            return [], tokens, False
        gamma = self.gamma.choose()
        started = time.perf_counter()
        n = gamma + _SKIP_EXTRA if skip is not None else gamma
        if answer.by_id:
            tokens = await self.drafter.draft(prompt, n, after=answer.ids + answer.unverified_ids)
        else:
            tokens = await self.drafter.draft(prompt.continued(answer.verified + answer.unverified), n)
        elapsed_ms = (time.perf_counter() - started) * 1000
        stats.draft_ms += elapsed_ms
        answer.round_draft_ms += elapsed_ms
        answer.round_drafted += len(tokens)
        end = tokens[-1] if tokens and tokens[-1].end else None
        tokens = [t for t in tokens if not t.end]
        if skip is None:  # lossless: only the verifier ends the answer, whatever the drafter thinks
            stats.gammas.append(gamma)
            return [], tokens, False
        floor = math.log(skip)
        room = _MAX_UNVERIFIED - answer.unverified_tokens
        sure = 0
        while sure < min(len(tokens), room) and tokens[sure].logprob >= floor:
            sure += 1
        draft = tokens[sure : sure + gamma]
        if draft:
            stats.gammas.append(gamma)
        sure_of_the_end = end is not None and end.logprob >= floor and sure == len(tokens)
        return tokens[:sure], draft, sure_of_the_end

    def _draft_ahead(
        self, prompt: Prompt, params: GenerationParams, answer: _Answer, draft: list[DraftToken]
    ) -> asyncio.Future[list[DraftToken]] | None:
        """Pipelining: start drafting past ``draft`` (a guess at the verifier's token, then the next draft)."""
        if not self.pipeline or params.skip_threshold is not None or not draft:
            return None
        n = 1 + self.gamma.choose()
        if answer.by_id:
            after = answer.ids + [t.id for t in draft]
            return asyncio.ensure_future(self.drafter.draft(prompt, n, after=after))
        text = answer.verified + b"".join(t.piece for t in draft).decode("utf-8", errors="ignore")
        return asyncio.ensure_future(self.drafter.draft(prompt.continued(text), n))

    async def _verify(
        self,
        session: str,
        prompt: Prompt,
        params: GenerationParams,
        answer: _Answer,
        draft: list[DraftToken],
        stats: SpeculativeStats,
    ) -> tuple[str, dict[str, Any]]:
        draft_text = b"".join(t.piece for t in draft).decode("utf-8", errors="ignore")
        ids = ([t.id for t in draft], answer.unverified_ids) if answer.by_id else (None, None)
        started = time.perf_counter()
        try:
            reply = await self.verifier.verify(session, draft_text, answer.unverified, *ids)
        except UpstreamError as exc:
            if not session_lost(exc):
                raise
            stats.reopened += 1
            await self.verifier.close(session)
            opened = await self._open(prompt, params, answer.verified, stats.tokens, answer)
            session = str(opened["id"])
            reply = await self.verifier.verify(session, draft_text, answer.unverified, *ids)
        wall_ms = (time.perf_counter() - started) * 1000
        self._record(reply, stats, answer, wall_ms)
        return session, reply

    def _record(self, reply: dict[str, Any], stats: SpeculativeStats, answer: _Answer, wall_ms: float) -> None:
        stats.rounds += 1
        stats.tokens += int(reply["tokens"])
        stats.drafted += int(reply["drafted"])
        stats.accepted += int(reply["accepted"])
        stats.committed += int(reply["committed"])
        stats.committed_agreed += int(reply["committed_agreed"])
        stats.passes += int(reply["passes"])
        stats.verify_ms += float(reply["verify_ms"])
        per_token = answer.round_draft_ms / answer.round_drafted if answer.round_drafted else self.gamma.draft_ms
        answer.round_draft_ms, answer.round_drafted = 0.0, 0
        self.gamma.update(
            drafted=int(reply["drafted"]),
            accepted=int(reply["accepted"]),
            draft_ms=per_token * int(reply["drafted"]),
            rtt_ms=wall_ms - float(reply["verify_ms"]),
            verify_ms=float(reply["verify_ms"]),
            evaluated=int(reply["evaluated"]),
            passes=int(reply["passes"]),
        )

    async def _open(
        self,
        prompt: Prompt,
        params: GenerationParams,
        continuation: str,
        used: int = 0,
        answer: _Answer | None = None,
    ) -> dict[str, Any]:
        """A verify session; a re-open passes the answer so far (``answer``), as ids in token-id mode."""
        by_id = answer is not None and answer.by_id
        body: dict[str, Any] = {
            "model": self.model,
            "continuation": prompt.continuation + ("" if by_id else continuation),
            "max_tokens": max(1, params.max_tokens - used) if params.max_tokens_explicit else None,
            "verify": self.mode,
            "drafter_vocab": self.drafter.vocab_fingerprint,
        }
        if by_id:
            assert answer is not None
            body["continuation_ids"] = answer.ids
        if prompt.is_chat:
            body["messages"] = prompt.as_openai_messages()
        else:
            body["prompt"] = prompt.text
        return await self.verifier.open(body)


def _confirmed(reply: dict[str, Any], draft: list[DraftToken], guess: DraftToken, by_id: bool) -> bool:
    """Did the verifier keep the whole draft and add exactly the drafter's guess as its own token?"""
    if guess.end or reply["finished"] or int(reply["accepted"]) != len(draft):
        return False
    if by_id:
        return [int(t) for t in reply["ids"]] == [*(t.id for t in draft), guess.id]
    expected = b"".join(t.piece for t in draft) + guess.piece
    return str(reply["text"]).encode("utf-8") == expected
