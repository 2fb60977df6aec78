"""Every bad request answers 4xx with an OpenAI-style error body, never a 500 or a traceback.

One edge for the module, its app in-process over httpx's ASGI transport (``conftest.asgi_node``):
the checks are of what the HTTP layer answers, and none of them changes the node."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from conftest import asgi_node

CHAT = "/v1/chat/completions"
HI = [{"role": "user", "content": "Hi"}]


def _post(client: httpx.Client, path: str, content: bytes | None = None, json: Any = None) -> httpx.Response:
    headers = {"content-type": "application/json"}
    return client.post(path, content=content, json=json, headers=headers)


def _assert_error(response: httpx.Response, status: int, param: str | None = None) -> dict[str, Any]:
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert set(error) == {"message", "type", "param", "code"}
    assert error["message"] and "Traceback" not in error["message"]
    if param is not None:
        assert error["param"] == param
    return dict(error)


@pytest.fixture(scope="module")
def lone_edge(tmp_path_factory: pytest.TempPathFactory) -> Iterator[httpx.Client]:
    with asgi_node(data_dir=tmp_path_factory.mktemp("edge"), n_ctx=256, max_body_bytes=4096,
                   max_tokens_limit=64) as client:  # fmt: skip
        yield client


def test_malformed_json(lone_edge: httpx.Client) -> None:
    error = _assert_error(_post(lone_edge, CHAT, content=b'{"model": "edgesplit/auto", "messages": ['), 400)
    assert error["code"] == "invalid_json"


def test_body_not_an_object(lone_edge: httpx.Client) -> None:
    _assert_error(_post(lone_edge, CHAT, content=b"[1, 2, 3]"), 400)


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({"model": "edgesplit/auto", "messages": "hi"}, "messages"),
        ({"model": "edgesplit/auto", "messages": HI, "max_tokens": "ten"}, "max_tokens"),
        ({"model": "edgesplit/auto", "messages": HI, "temperature": 5}, "temperature"),
        ({"model": "edgesplit/auto", "messages": [{"role": "robot", "content": "x"}]}, "messages.0.role"),
        ({"messages": HI}, "model"),
    ],
)
def test_wrong_types_and_values(lone_edge: httpx.Client, body: dict[str, Any], param: str) -> None:
    _assert_error(_post(lone_edge, CHAT, json=body), 400, param)


def test_unknown_model(lone_edge: httpx.Client) -> None:
    error = _assert_error(_post(lone_edge, CHAT, json={"model": "gpt-17", "messages": HI}), 404, "model")
    assert error["code"] == "model_not_found"


@pytest.mark.parametrize("messages", [[], [{"role": "user", "content": "   "}]])
def test_empty_messages(lone_edge: httpx.Client, messages: list[dict[str, str]]) -> None:
    _assert_error(_post(lone_edge, CHAT, json={"model": "edgesplit/edge", "messages": messages}), 400, "messages")


def test_empty_completion_prompt(lone_edge: httpx.Client) -> None:
    _assert_error(_post(lone_edge, "/v1/completions", json={"model": "edgesplit/edge", "prompt": ""}), 400, "prompt")


def test_prompt_longer_than_context(lone_edge: httpx.Client) -> None:
    long_text = "word " * 300  # > 256-token context, < 4096-byte body limit... barely
    body = {"model": "edgesplit/edge", "messages": [{"role": "user", "content": long_text[:3500]}]}
    error = _assert_error(_post(lone_edge, CHAT, json=body), 400)
    assert error["code"] == "context_length_exceeded"


def test_prompt_plus_max_tokens_over_context(lone_edge: httpx.Client) -> None:
    body = {"model": "edgesplit/edge", "messages": [{"role": "user", "content": "word " * 200}], "max_tokens": 64}
    error = _assert_error(_post(lone_edge, CHAT, json=body), 400, "max_tokens")
    assert error["code"] == "context_length_exceeded"


@pytest.mark.parametrize("max_tokens", [0, -1, 65, 10**9])
def test_max_tokens_out_of_range(lone_edge: httpx.Client, max_tokens: int) -> None:
    body = {"model": "edgesplit/edge", "messages": HI, "max_tokens": max_tokens}
    _assert_error(_post(lone_edge, CHAT, json=body), 400, "max_tokens")


def test_oversized_body(lone_edge: httpx.Client) -> None:
    body = {"model": "edgesplit/edge", "messages": [{"role": "user", "content": "x" * 10_000}]}
    error = _assert_error(_post(lone_edge, CHAT, json=body), 413)
    assert error["code"] == "request_too_large"


@pytest.mark.parametrize(
    ("extra", "param"),
    [
        ({"tools": [{"type": "function", "function": {"name": "f"}}]}, "tools"),
        ({"n": 2}, "n"),
        ({"response_format": {"type": "json_object"}}, "response_format"),
        ({"frobnicate": True}, "frobnicate"),
        ({"top_logprobs": 3}, "top_logprobs"),
    ],
)
def test_unsupported_parameters(lone_edge: httpx.Client, extra: dict[str, Any], param: str) -> None:
    body = {"model": "edgesplit/edge", "messages": HI, **extra}
    _assert_error(_post(lone_edge, CHAT, json=body), 400, param)


def test_bad_route_header(lone_edge: httpx.Client) -> None:
    response = lone_edge.post(
        CHAT,
        json={"model": "edgesplit/auto", "messages": HI},
        headers={"x-edgesplit-route": "moon"},
    )
    _assert_error(response, 400, "x-edgesplit-route")


def test_unknown_path_and_method(lone_edge: httpx.Client) -> None:
    _assert_error(lone_edge.get("/v1/nothing"), 404)
    _assert_error(lone_edge.get(CHAT), 405)


def test_error_does_not_break_the_node(lone_edge: httpx.Client) -> None:
    _post(lone_edge, CHAT, content=b"{")
    ok = _post(lone_edge, CHAT, json={"model": "edgesplit/edge", "messages": HI, "max_tokens": 4})
    assert ok.status_code == 200
