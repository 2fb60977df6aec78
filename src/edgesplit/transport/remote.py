"""RemoteBackend: full generation on the upstream tier through its OpenAI-compatible API.

Any OpenAI-compatible server works (an edgesplit cloud node, vLLM, Ollama, llama.cpp's
server). The request always streams upstream, so tokens reach the client as they arrive
and a broken stream is noticed at once. Time limits: the first token must arrive within
``timeout_s`` of the call, and no gap between chunks may exceed ``timeout_s``.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncGenerator, AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
import orjson

from edgesplit.errors import UpstreamError, UpstreamTimeout
from edgesplit.generation import Finish, GenerationParams, Prompt, TokenEvent, finish_reason
from edgesplit.schemas import ContinueMode
from edgesplit.transport.upstream import UpstreamClient, error_message

__all__ = ["RemoteBackend"]


class RemoteBackend:
    """The next tier up, reached over HTTP with a bearer token."""

    def __init__(self, client: UpstreamClient, model: str, continues: ContinueMode = "flag") -> None:
        self.name = "cloud"
        self.client = client  # shared with the edge's other upstream calls; its owner closes it
        self.model = model
        self.continues = continues  # how it takes up a chat answer begun elsewhere (config.UpstreamConfig)
        self.timeout_s = client.timeout_s

    def _body(self, prompt: Prompt, params: GenerationParams) -> tuple[str, dict[str, Any]]:
        body: dict[str, Any] = {
            "model": self.model,
            "max_tokens": params.max_tokens,
            "temperature": params.temperature,
            "top_p": params.top_p,
            "stream": True,
            "stream_options": {"include_usage": True},
        }
        if params.seed is not None:
            body["seed"] = params.seed
        if params.stop:
            body["stop"] = list(params.stop)
        if params.presence_penalty:
            body["presence_penalty"] = params.presence_penalty
        if params.frequency_penalty:
            body["frequency_penalty"] = params.frequency_penalty
        if prompt.is_chat:
            body["messages"] = prompt.as_openai_messages()
            if prompt.continuation:
                self._continue(body, prompt.continuation)
            if params.logprobs:
                body["logprobs"] = True
                body["top_logprobs"] = params.top_logprobs
            return "/v1/chat/completions", body
        body["prompt"] = (prompt.text or "") + prompt.continuation
        if params.logprobs:
            body["logprobs"] = params.top_logprobs
        return "/v1/completions", body

    def _continue(self, body: dict[str, Any], answered: str) -> None:
        """Ask for the rest of an answer begun elsewhere: a final assistant message to continue.

        ``flag``: told so with ``continue_final_message`` (an edgesplit tier, vLLM); ``prefill``:
        the server continues a final assistant message by itself (llama.cpp's llama-server)."""
        if self.continues == "none":
            raise ValueError("this upstream cannot continue a chat answer (continues = none)")
        body["messages"].append({"role": "assistant", "content": answered})
        if self.continues == "flag":
            body["continue_final_message"] = True
            body["add_generation_prompt"] = False

    async def stream(self, prompt: Prompt, params: GenerationParams) -> AsyncGenerator[TokenEvent | Finish, None]:
        path, body = self._body(prompt, params)
        first_deadline = asyncio.get_running_loop().time() + self.timeout_s
        try:
            async with asyncio.timeout_at(first_deadline):
                response = await self.client.open_stream(path, body, dict(params.upstream_headers) or None)
        except TimeoutError:
            raise UpstreamTimeout(f"upstream gave no answer within {self.timeout_s:g} s") from None
        except httpx.HTTPError as exc:
            raise UpstreamError(f"upstream unreachable: {type(exc).__name__}: {exc}") from None
        try:
            if response.status_code >= 400:
                raise await _status_error(response)
            async for event in self._events(response, first_deadline):
                yield event
        finally:
            await response.aclose()

    async def _events(
        self, response: httpx.Response, first_deadline: float
    ) -> AsyncGenerator[TokenEvent | Finish, None]:
        """Parse the SSE stream: the call's deadline holds until the first token, then a per-chunk stall limit."""
        loop = asyncio.get_running_loop()
        started = loop.time()
        deadline: float | None = first_deadline
        report = _HopReport()
        upstream_reason = "length"
        completion_tokens = 0
        prompt_tokens = 0
        lines = response.aiter_lines()
        while True:
            try:
                async with asyncio.timeout_at(deadline or loop.time() + self.timeout_s):
                    line = await anext(lines)
            except StopAsyncIteration:
                raise UpstreamError("upstream stream ended without [DONE]") from None
            except TimeoutError:
                raise UpstreamTimeout(f"upstream stalled for more than {self.timeout_s:g} s") from None
            except httpx.HTTPError as exc:
                raise UpstreamError(f"upstream stream broke: {type(exc).__name__}: {exc}") from None
            if not line.startswith("data:"):
                continue
            data = line[5:].strip()
            if data == "[DONE]":
                await _drain(lines)  # read to the end, so the connection goes back to the pool
                break
            chunk = _read_chunk(data)
            report.read(chunk.raw)
            if chunk.usage is not None:
                prompt_tokens, completion_tokens = chunk.usage[0], chunk.usage[1] or completion_tokens
            for event in chunk.events:
                deadline = None
                yield event
                if chunk.usage is None:
                    completion_tokens += 1
            upstream_reason = chunk.finish or upstream_reason
        yield Finish(
            reason=finish_reason(upstream_reason),
            prompt_tokens=prompt_tokens,
            completion_tokens=completion_tokens,
            upstream_hops=report.hops((loop.time() - started) * 1000),
        )


class _HopReport:
    """What the upstream says about where it served: an edgesplit tier's ``edgesplit.hops``, else its model."""

    def __init__(self) -> None:
        self.model: str | None = None
        self.reported: list[dict[str, Any]] | None = None

    def read(self, chunk: dict[str, Any]) -> None:
        self.model = chunk.get("model", self.model)
        meta = chunk.get("edgesplit")
        if isinstance(meta, dict) and isinstance(meta.get("hops"), list) and meta["hops"]:
            self.reported = meta["hops"]

    def hops(self, elapsed_ms: float) -> tuple[dict[str, Any], ...]:
        if self.reported is not None:
            return tuple(self.reported)
        # a plain OpenAI-compatible server (vLLM, Ollama, llama.cpp's server): one hop, timed from here
        return ({"tier": "upstream", "model": self.model, "served": True, "latency_ms": round(elapsed_ms, 1)},)


@dataclass(frozen=True)
class _Chunk:
    """One SSE ``data:`` chunk, read: its tokens, its usage (prompt, completion) and finish reason."""

    raw: dict[str, Any]
    events: list[TokenEvent]
    usage: tuple[int, int] | None
    finish: str | None


def _read_chunk(data: str) -> _Chunk:
    """A chunk as OpenAI's streaming format has it; anything else (not JSON, wrong types, an error
    chunk) is an UpstreamError: what the upstream sent is foreign input, caught at this boundary."""
    try:
        chunk = orjson.loads(data)
        if not isinstance(chunk, dict):
            raise TypeError(f"a chunk must be an object, got {type(chunk).__name__}")
        if "error" in chunk:
            error = chunk["error"]
            message = error.get("message", error) if isinstance(error, dict) else error
            raise UpstreamError(f"upstream error mid-stream: {message}")
        usage = chunk.get("usage")
        counts = (int(usage.get("prompt_tokens") or 0), int(usage.get("completion_tokens") or 0)) if usage else None
        events, finish = [], None
        for choice in chunk.get("choices") or []:
            if (event := _choice_event(choice)) is not None:
                events.append(event)
            finish = choice.get("finish_reason") or finish
        if finish is not None and not isinstance(finish, str):
            raise TypeError("finish_reason must be a string")
        return _Chunk(chunk, events, counts, finish)
    except (ValueError, TypeError, KeyError, AttributeError) as exc:
        raise UpstreamError(f"upstream sent a malformed stream chunk: {type(exc).__name__}: {exc}") from None


def _choice_event(choice: dict[str, Any]) -> TokenEvent | None:
    text = choice["delta"].get("content") if "delta" in choice else choice.get("text")
    if not text:
        return None
    if not isinstance(text, str):
        raise TypeError("a chunk's content must be a string")
    logprob = None
    entries = (choice.get("logprobs") or {}).get("content") or []
    if entries:
        logprob = float(sum(e["logprob"] for e in entries) / len(entries))
    return TokenEvent(text=text, logprob=logprob)


async def _status_error(response: httpx.Response) -> UpstreamError:
    await response.aread()
    message = error_message(response)
    return UpstreamError(f"upstream answered {response.status_code}: {message}", status_code=response.status_code)


async def _drain(lines: AsyncIterator[str], limit: int = 16) -> None:
    """Read what follows ``[DONE]`` (normally nothing but the chunked-encoding end)."""
    with contextlib.suppress(httpx.HTTPError):
        for _ in range(limit):
            try:
                await anext(lines)
            except StopAsyncIteration:
                return
