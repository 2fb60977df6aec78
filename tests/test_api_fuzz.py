"""Schema-driven fuzzing (schemathesis) of every role's OpenAPI spec, against real nodes on loopback.

Device, local and cloud publish their real request bodies (``http/openapi.py``). For each role,
schemathesis generates requests from the spec, valid and not, for every operation, and checks:
no 5xx, status codes, content types and headers as documented, response bodies that conform,
the right answer to an undeclared method (405 with ``Allow``), and (a check of ours) an
OpenAI-style error body on every 4xx. ``positive_data_acceptance`` is left out: a schema-valid
request may still be refused by what a spec cannot say (a prompt over the context window, a
session that does not exist), and those refusals are checked to be OpenAI-style errors instead.
Bounded: ``EXAMPLES`` per operation.
"""

from __future__ import annotations

import os
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import Case
from schemathesis.specs.openapi.checks import positive_data_acceptance

from conftest import CLOUD_TOKEN, EDGE_MODEL, EdgeFactory
from edgesplit.server import NodeServer

EXAMPLES = int(os.environ.get("EDGESPLIT_FUZZ_EXAMPLES", "8"))
LOCAL_TOKEN = "fuzz-local-token"
SMALL = {"max_tokens_limit": 8, "default_max_tokens": 4}  # fuzzed generations stay short


@pytest.fixture
def device_spec(make_edge: EdgeFactory) -> Any:
    node = make_edge(upstream="http://127.0.0.1:9", **SMALL)  # an upstream that is down: jobs, fallbacks
    return schemathesis.openapi.from_url(f"{node.url}/openapi.json")


@pytest.fixture
def local_spec(make_edge: EdgeFactory, cloud: NodeServer) -> Any:
    """A local tier before the session cloud; its long upstream timeout: a busy CI cloud is no 504."""
    node = make_edge(role="local", model=EDGE_MODEL, api_token=LOCAL_TOKEN, upstream=cloud.url,
                     upstream_token=CLOUD_TOKEN, upstream_timeout_s=120, **SMALL)  # fmt: skip
    return schemathesis.openapi.from_url(f"{node.url}/openapi.json", headers=_auth(LOCAL_TOKEN))


@pytest.fixture
def cloud_spec(make_edge: EdgeFactory) -> Any:
    """A cloud like the session's (split and verify sessions too), with the short generations of SMALL."""
    node = make_edge(role="cloud", model=EDGE_MODEL, api_token=CLOUD_TOKEN, split_model=EDGE_MODEL,
                     speculative_model=EDGE_MODEL, **SMALL)  # fmt: skip
    return schemathesis.openapi.from_url(f"{node.url}/openapi.json", headers=_auth(CLOUD_TOKEN))


def _auth(token: str) -> dict[str, str]:
    return {"authorization": f"Bearer {token}"}


def _check(case: Case, token: str | None = None) -> None:
    headers = _auth(token) if token else None
    response = case.call_and_validate(headers=headers, excluded_checks=[positive_data_acceptance], timeout=180)
    if response.status_code >= 400 and response.headers.get("content-type", [""])[0].startswith("application/json"):
        error = response.json()["error"]
        assert isinstance(error["message"], str) and isinstance(error["type"], str), response.text


# derandomized: the same cases on every run, so CI is repeatable; EDGESPLIT_FUZZ_EXAMPLES=200 digs deeper
FUZZ = settings(max_examples=EXAMPLES, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))


def _fuzz(schema: Any, token: str | None) -> int:
    """Every operation of ``schema``, EXAMPLES generated cases each; the number of operations."""
    operations = [result.ok() for result in schema.get_all_operations()]
    for operation in operations:

        @FUZZ
        @given(operation.as_strategy())
        def run(case: Case) -> None:
            _check(case, token)

        run()
    return len(operations)


def test_device_api(device_spec: Any) -> None:
    assert _fuzz(device_spec, None) >= 10


def test_local_api(local_spec: Any) -> None:
    assert _fuzz(local_spec, LOCAL_TOKEN) >= 14  # the relay routes too: sync, feedback


def test_cloud_api(cloud_spec: Any) -> None:
    assert _fuzz(cloud_spec, CLOUD_TOKEN) >= 14  # split and verify sessions, feedback, results
