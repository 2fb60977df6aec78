"""Parser fuzzing (hypothesis): every parser that reads bytes from outside gives a result or its own error.

The tensor-frame decoder, the upstream client's SSE parser, the router artifact loader, the TOML
config, the job record and the streaming placeholder restorer. "Its own error" is the project's
exception tree (or pydantic's ValidationError where a model is the parser); anything else, or a
hang, fails the test.
"""

from __future__ import annotations

import asyncio
import json
import struct
import tempfile
from pathlib import Path

import httpx
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from edgesplit.config import load_settings
from edgesplit.engine.codec import CODECS, decode_frame, encode_frame
from edgesplit.errors import ConfigError, InvalidRequest, UpstreamError
from edgesplit.generation import Finish, GenerationParams, Prompt
from edgesplit.privacy.detectors import Detector
from edgesplit.privacy.redactor import redact_text
from edgesplit.privacy.restore import StreamRestorer
from edgesplit.privacy.vault import Mapping
from edgesplit.routing.artifact import ArtifactError, load_artifact
from edgesplit.schemas import JobRecord
from edgesplit.transport.remote import RemoteBackend
from edgesplit.transport.upstream import UpstreamClient

FUZZ = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4),
    max_leaves=12,
)


# -- tensor frames -------------------------------------------------------------------------------


def _frame(codec: str) -> bytes:
    return encode_frame(torch.randn(1, 3, 8), 5, codec)  # type: ignore[arg-type]


@FUZZ
@given(st.sampled_from(CODECS), st.lists(st.tuples(st.integers(0, 400), st.integers(0, 255)), max_size=6),
       st.integers(0, 500))  # fmt: skip
def test_a_mutated_frame_decodes_or_is_refused(codec: str, flips: list[tuple[int, int]], cut: int) -> None:
    data = bytearray(_frame(codec))
    for at, byte in flips:
        if at < len(data):
            data[at] = byte
    data = data[: len(data) - cut] if cut < len(data) else data
    try:
        frame, _ = decode_frame(bytes(data), expected_dim=8)
    except InvalidRequest:
        return
    assert torch.isfinite(frame.hidden).all()


@FUZZ
@given(st.binary(max_size=300))
def test_random_bytes_are_no_frame(data: bytes) -> None:
    with pytest.raises(InvalidRequest):
        decode_frame(data)


def test_a_frame_header_cannot_claim_a_huge_body() -> None:
    header = bytearray(_frame("fp32"))
    struct.pack_into("<I", header, 8, 65536)  # n_tokens: the body is not there
    with pytest.raises(InvalidRequest):
        decode_frame(bytes(header))


# -- the upstream client's SSE parser -------------------------------------------------------------

_CHUNK = {"choices": [{"index": 0, "delta": {"content": "hi"}, "finish_reason": None}]}
_LINE = st.one_of(
    st.just(f"data: {json.dumps(_CHUNK)}"),
    st.just("data: [DONE]"),
    JSON.map(lambda v: f"data: {json.dumps(v)}"),
    st.text(max_size=30).map(lambda t: f"data: {t}"),
    st.text(max_size=30),
    st.just(": keep-alive"),
    st.just(""),
)


async def _run_stream(lines: list[str]) -> list[object]:
    body = ("\n".join(lines) + "\n").encode()
    transport = httpx.MockTransport(lambda request: httpx.Response(200, content=body))
    client = UpstreamClient("http://upstream.test", None, timeout_s=2, transport=transport)
    events: list[object] = []
    try:
        backend = RemoteBackend(client, "m")
        async for event in backend.stream(Prompt(messages=(("user", "x"),)), GenerationParams(max_tokens=8)):
            events.append(event)
    finally:
        await client.aclose()
    return events


@FUZZ
@given(st.lists(_LINE, max_size=12))
def test_any_sse_stream_parses_or_fails_as_an_upstream_error(lines: list[str]) -> None:
    try:
        events = asyncio.run(asyncio.wait_for(_run_stream(lines), timeout=10))
    except UpstreamError:
        return
    assert isinstance(events[-1], Finish)  # a stream that parses ends with its Finish


# -- router artifacts and the TOML config ---------------------------------------------------------


@FUZZ
@given(st.one_of(st.binary(max_size=200), JSON.map(lambda v: json.dumps(v).encode())))
def test_a_broken_router_artifact_is_an_artifact_error(data: bytes) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "router.json"
        path.write_bytes(data)
        with pytest.raises(ArtifactError):
            load_artifact(path)


_TOML_VALUE = st.one_of(
    st.integers(-10, 10**6).map(str), st.text(max_size=12).map(json.dumps), st.sampled_from(["true", "[]", "{}"])
)
_TOML_KEY = st.sampled_from(["role", "port", "model", "n_ctx", "upstream", "privacy_default", "rate_limit_rps",
                             "tls_cert", "api_tokens", "no_such_key", "outbox_max_rows", "privacy_rules"])  # fmt: skip


@FUZZ
@given(st.one_of(st.text(max_size=80), st.lists(st.tuples(_TOML_KEY, _TOML_VALUE), max_size=4)))
def test_any_config_file_loads_or_names_what_is_wrong(content: str | list[tuple[str, str]]) -> None:
    text = content if isinstance(content, str) else "\n".join(f"{k} = {v}" for k, v in content)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "node.toml"
        path.write_text(text)
        try:
            load_settings(path)
        except ConfigError as exc:
            assert str(exc)  # a message a person can act on


# -- job records ----------------------------------------------------------------------------------


@FUZZ
@given(st.dictionaries(st.sampled_from(["id", "status", "created", "kind", "request", "result", "attempts"]), JSON))
def test_a_job_record_validates_or_is_refused(raw: dict[str, object]) -> None:
    try:
        job = JobRecord.model_validate(raw)
    except ValidationError:
        return
    assert JobRecord.model_validate_json(job.model_dump_json()) == job  # what it stores, it reads back


# -- the streaming placeholder restorer -----------------------------------------------------------

_DETECTOR = Detector(ner=False)
_PII = st.sampled_from(["john@example.com", "+55 11 98765-4321", "529.982.247-25", "4111 1111 1111 1111",
                        "(415) 555-2671", "10.20.30.40", "GB82 WEST 1234 5698 7654 32"])  # fmt: skip
_TEXT = st.lists(st.one_of(st.text(max_size=12), _PII), max_size=8).map(" ".join)


@FUZZ
@given(_TEXT, st.lists(st.integers(1, 7), min_size=1, max_size=40))
def test_restore_of_redact_is_the_input_for_any_chunking(text: str, sizes: list[int]) -> None:
    mapping = Mapping()
    redacted = redact_text(text, _DETECTOR.detect(text), mapping)
    restorer, out, at, i = StreamRestorer(mapping), [], 0, 0
    while at < len(redacted):
        size = sizes[i % len(sizes)]
        out.append(restorer.feed(redacted[at : at + size]))
        at, i = at + size, i + 1
    out.append(restorer.flush())
    assert "".join(out) == text
