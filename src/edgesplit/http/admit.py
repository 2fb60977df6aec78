"""Stage 1, admit: read, size-check, parse and validate a request; 4xx with an OpenAI error body otherwise.

What comes out is an :class:`Admitted` request: the pydantic body, its prompt, the edgesplit
options (body and ``x-edgesplit-*`` headers), the generation parameters and the route asked for.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal, TypeVar

from fastapi import Request
from pydantic import BaseModel, ValidationError

from edgesplit.errors import InvalidRequest
from edgesplit.generation import GenerationParams, Prompt
from edgesplit.http.errors import RequestTooLarge
from edgesplit.schemas import PRIVACY_ACTIONS, ChatCompletionRequest, CompletionRequest, EdgesplitOptions, RouteName

if TYPE_CHECKING:
    from edgesplit.http.node import Node
    from edgesplit.preprocess.base import Applied

__all__ = ["Admitted", "admit", "parse_body", "read_body"]

R = TypeVar("R", bound=BaseModel)
OpenAIRequest = ChatCompletionRequest | CompletionRequest
_OPTION_HEADERS = (
    ("x-edgesplit-priority", "priority", ("interactive", "batch")),
    ("x-edgesplit-on-cloud-unavailable", "on_cloud_unavailable", ("fallback", "defer", "error")),
    ("x-edgesplit-privacy", "privacy", PRIVACY_ACTIONS),
)


@dataclass(frozen=True)
class Admitted:
    """A request that passed admission: everything later stages need, validated."""

    raw: bytes  # the body as received (an idempotent run is keyed on its digest)
    req: OpenAIRequest
    prompt: Prompt
    options: EdgesplitOptions
    params: GenerationParams
    route: RouteName
    kind: Literal["chat", "text"]
    preprocessed: tuple[Applied, ...] = ()  # what the before-routing pre-processors did


async def admit(node: Node, request: Request, model: type[OpenAIRequest]) -> Admitted:
    """Read and validate one OpenAI request for ``node``."""
    raw = await read_body(request, node.settings.max_body_bytes)
    req = parse_body(model, raw)
    prompt = _chat_prompt(req) if isinstance(req, ChatCompletionRequest) else _completion_prompt(req)
    options = _options(request, req)
    route = node.resolve(req.model, request.headers.get("x-edgesplit-route"), options.route)
    kind: Literal["chat", "text"] = "chat" if prompt.is_chat else "text"
    return Admitted(raw, req, prompt, options, _params(node, req, options), route, kind)


def parse_body(model: type[R], raw: bytes, what: str = "") -> R:
    """``model`` from JSON ``raw``; a malformed or invalid body is an :class:`InvalidRequest` naming the field."""
    try:
        return model.model_validate_json(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        param = ".".join(str(p) for p in first["loc"]) or None
        if first["type"] == "json_invalid":
            raise InvalidRequest(f"malformed JSON body: {first['msg']}", code="invalid_json") from None
        if first["type"] == "extra_forbidden":
            raise InvalidRequest(f"unsupported parameter: {param}", param=param, code="unsupported_parameter") from None
        where = f" in {what}" if what else ""
        raise InvalidRequest(f"invalid value for {param}{where}: {first['msg']}", param=param) from None


async def read_body(request: Request, limit: int) -> bytes:
    """The body, refused as soon as it passes ``limit`` bytes (declared or streamed)."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise RequestTooLarge(limit)
    body = bytearray()
    async for part in request.stream():
        body.extend(part)
        if len(body) > limit:
            raise RequestTooLarge(limit)
    return bytes(body)


def _params(node: Node, req: OpenAIRequest, options: EdgesplitOptions) -> GenerationParams:
    requested = req.requested_max_tokens()
    limit = node.settings.max_tokens_limit
    if requested is not None and requested > limit:
        raise InvalidRequest(f"max_tokens must be at most {limit}, got {requested}", param="max_tokens")
    if isinstance(req, ChatCompletionRequest):
        logprobs, top = req.logprobs, (req.top_logprobs or 0)
        if top and not logprobs:
            raise InvalidRequest("top_logprobs requires logprobs: true", param="top_logprobs")
    else:
        logprobs, top = req.logprobs is not None, (req.logprobs or 0)
    return GenerationParams(
        max_tokens=requested or node.settings.default_max_tokens,
        max_tokens_explicit=requested is not None,
        temperature=req.temperature,
        top_p=req.top_p,
        seed=req.seed,
        stop=tuple(req.stop_list()),
        presence_penalty=req.presence_penalty,
        frequency_penalty=req.frequency_penalty,
        logprobs=logprobs,
        top_logprobs=top,
        skip_threshold=_skip_threshold(node, options),
    )


def _skip_threshold(node: Node, options: EdgesplitOptions) -> float | None:
    """The speculative uncertainty-skip threshold a request asks for (``true``: the configured one)."""
    skip = options.speculative_skip
    if skip is None or skip is False:
        return None
    return node.settings.speculative_skip_threshold if skip is True else float(skip)


def _options(request: Request, req: OpenAIRequest) -> EdgesplitOptions:
    """Body options, with the ``x-edgesplit-priority``, ``-on-cloud-unavailable`` and ``-privacy`` headers on top."""
    options = req.edgesplit or EdgesplitOptions()
    updates: dict[str, str] = {}
    for header, field, allowed in _OPTION_HEADERS:
        value = request.headers.get(header)
        if value is None:
            continue
        if value.strip().lower() not in allowed:
            raise InvalidRequest(f"{header} must be one of {', '.join(allowed)}, got {value!r}", param=header)
        updates[field] = value.strip().lower()
    return options.model_copy(update=updates) if updates else options


def _chat_prompt(req: ChatCompletionRequest) -> Prompt:
    messages = tuple(("system" if m.role == "developer" else m.role, m.text()) for m in req.messages)
    if all(not content.strip() for _, content in messages):
        raise InvalidRequest("messages: every message is empty", param="messages", code="empty_messages")
    if req.continue_final_message:  # the answer so far: what follows continues it
        return Prompt(messages=messages[:-1], continuation=messages[-1][1])
    return Prompt(messages=messages)


def _completion_prompt(req: CompletionRequest) -> Prompt:
    if not req.prompt_text().strip():
        raise InvalidRequest("prompt is empty", param="prompt", code="empty_prompt")
    return Prompt(text=req.prompt_text())
