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


@pytest.mark.parametrize("role", ["edge", "cloud"])
def test_every_json_route_publishes_a_success_schema(
    role: str, edge_node: NodeServer, cloud: NodeServer, spec: dict[str, Any]
) -> None:
    """Each operation's 2xx answer has a schema (or is empty, or is not JSON): none is the bare ``{}``."""
    if role == "cloud":
        spec = httpx.get(f"{cloud.url}/openapi.json", headers={"authorization": f"Bearer {CLOUD_TOKEN}"}).json()
    bare = []
    for path, item in spec["paths"].items():
        for method, operation in item.items():
            for status, response in operation["responses"].items():
                schema = response.get("content", {}).get("application/json", {}).get("schema")
                if status.startswith("2") and schema == {}:
                    bare.append(f"{method.upper()} {path}")
    assert bare == [], bare
