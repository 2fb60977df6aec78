"""Real answers of a node, plain and streamed, validate against the success models the spec publishes.

schemathesis (``tests/test_api_fuzz.py``) checks JSON answers against ``/openapi.json``; it does not
read server-sent events, so every chunk of a stream is checked here, against the model the spec
names for it, and the spec is checked to name it.
"""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
from pydantic import BaseModel

from conftest import CLOUD_TOKEN, EDGE_MODEL
from edgesplit.http.response_models import ChatCompletion, ChatCompletionChunk, Health, ModelList, TextCompletion
from edgesplit.server import NodeServer

CHAT = {"model": "edgesplit/edge", "messages": [{"role": "user", "content": "Name a colour."}], "max_tokens": 6}
TEXT = {"model": "edgesplit/edge", "prompt": "The sky is", "max_tokens": 6}


def _events(server: NodeServer, path: str, body: dict[str, Any]) -> list[str]:
    with httpx.stream("POST", f"{server.url}{path}", json={**body, "stream": True}, timeout=60) as reply:
        assert reply.status_code == 200 and reply.headers["content-type"].startswith("text/event-stream")
        return [line[len("data: ") :] for line in reply.iter_lines() if line.startswith("data: ")]


def _validate_stream(events: list[str], chunk: type[BaseModel]) -> list[BaseModel]:
    assert events[-1] == "[DONE]"
    return [chunk.model_validate(json.loads(data)) for data in events[:-1]]


@pytest.fixture(scope="module")
def spec(edge_node: NodeServer) -> dict[str, Any]:
    return httpx.get(f"{edge_node.url}/openapi.json").json()  # type: ignore[no-any-return]


@pytest.fixture(scope="module")
def edge_node(tmp_path_factory: pytest.TempPathFactory) -> Any:
    from edgesplit.config import load_settings
    from edgesplit.server import build_node

    settings = load_settings(port=0, role="edge", model=EDGE_MODEL, data_dir=tmp_path_factory.mktemp("edge"),
                             router_packaged=False)  # fmt: skip
    server = NodeServer(build_node(settings)).start()
    yield server
    server.stop()


@pytest.mark.parametrize("logprobs", [False, True])
def test_a_chat_answer_and_every_chunk_of_its_stream_fit_the_models(edge_node: NodeServer, logprobs: bool) -> None:
    extra = {"logprobs": True, "top_logprobs": 2} if logprobs else {}
    whole = ChatCompletion.model_validate(httpx.post(f"{edge_node.url}/v1/chat/completions", json={**CHAT, **extra},
                                                     timeout=60).json())  # fmt: skip
    assert whole.edgesplit.route == "edge" and (whole.choices[0].logprobs is not None) == logprobs
    body = {**CHAT, **extra, "stream_options": {"include_usage": True}}
    chunks = _validate_stream(_events(edge_node, "/v1/chat/completions", body), ChatCompletionChunk)
    assert isinstance(chunks[-1], ChatCompletionChunk) and chunks[-1].usage is not None  # the usage chunk


def test_a_text_completion_and_its_stream_fit_the_model(edge_node: NodeServer) -> None:
    whole = TextCompletion.model_validate(httpx.post(f"{edge_node.url}/v1/completions", json=TEXT, timeout=60).json())
    assert whole.usage is not None and whole.choices[0].text
    chunks = _validate_stream(_events(edge_node, "/v1/completions", {**TEXT, "logprobs": 1}), TextCompletion)
    assert len(chunks) >= 2


def test_models_and_health_fit_their_models(edge_node: NodeServer) -> None:
    assert ModelList.model_validate(httpx.get(f"{edge_node.url}/v1/models").json()).data
    assert Health.model_validate(httpx.get(f"{edge_node.url}/healthz").json()).role == "edge"


@pytest.mark.parametrize(
    ("path", "answer", "chunk"),
    [("/v1/chat/completions", "ChatCompletion", "ChatCompletionChunk"),
     ("/v1/completions", "TextCompletion", "TextCompletion")],
)  # fmt: skip
def test_the_spec_names_the_answer_and_the_chunk(spec: dict[str, Any], path: str, answer: str, chunk: str) -> None:
    content = spec["paths"][path]["post"]["responses"]["200"]["content"]
    assert content["application/json"]["schema"] == {"$ref": f"#/components/schemas/{answer}"}
    data = content["text/event-stream"]["schema"]["properties"]["data"]
    assert {"$ref": f"#/components/schemas/{chunk}"} in [b.get("contentSchema") for b in data["oneOf"]]
    assert {answer, chunk, "RouteInfo", "Usage"} <= set(spec["components"]["schemas"])


def _generic(schema: dict[str, Any]) -> bool:
    """A schema that says nothing of the answer's fields: ``{}``, a bare object or a map of anything."""
    if "$ref" in schema:
        return False
    branches = schema.get("anyOf") or schema.get("oneOf")
    if branches:
        return all(_generic(b) for b in branches)
    if schema.get("type") == "array":
        return _generic(schema.get("items", {}))
    if schema.get("type") not in (None, "object"):
        return False  # a string, a number: specific enough
    extra = schema.get("additionalProperties", True)
    return not schema.get("properties") and (extra is True or (isinstance(extra, dict) and _generic(extra)))


def test_the_generic_check_tells_a_bare_object_from_a_model() -> None:
    assert _generic({}) and _generic({"type": "object"}) and _generic({"type": "object", "additionalProperties": True})
    assert _generic({"type": "object", "additionalProperties": {}, "title": "Response Stats"})
    assert _generic({"anyOf": [{"type": "object"}, {"type": "null"}]}) is False  # null is specific
    assert not _generic({"$ref": "#/components/schemas/Stats"})
    assert not _generic({"type": "object", "properties": {"planned": {"type": "boolean"}}})
    assert not _generic({"type": "object", "additionalProperties": {"$ref": "#/components/schemas/RouteSeries"}})


@pytest.mark.parametrize("role", ["edge", "cloud"])
def test_every_json_route_publishes_a_success_schema(
    role: str, edge_node: NodeServer, cloud: NodeServer, spec: dict[str, Any]
) -> None:
    """Each operation's 2xx answer has a real schema (or is empty, or is not JSON): none is ``{}`` or a
    generic object, including /v1/stats, /v1/split/plan, /v1/split/profile and /v1/results/{key}."""
    if role == "cloud":
        spec = httpx.get(f"{cloud.url}/openapi.json", headers={"authorization": f"Bearer {CLOUD_TOKEN}"}).json()
    generic, seen = [], set()
    for path, item in spec["paths"].items():
        for method, operation in item.items():
            for status, response in operation["responses"].items():
                schema = response.get("content", {}).get("application/json", {}).get("schema")
                if status.startswith("2") and schema is not None:
                    seen.add(path)
                    if _generic(schema):
                        generic.append(f"{method.upper()} {path}")
    assert generic == [], generic
    assert "/v1/stats" in seen and ("/v1/results/{key}" in seen or role == "edge")
    assert ("/v1/split/profile" if role == "cloud" else "/v1/split/plan") in seen
