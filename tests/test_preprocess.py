"""preprocess/: cleaning, log extraction and compression, alone and in a real node's request path."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import numpy as np
import pytest

from conftest import CLOUD_TOKEN, EDGE_MODEL, EdgeFactory
from doubles import RecordingEcho
from edgesplit.config import load_settings
from edgesplit.errors import ConfigError
from edgesplit.evaluation.device_logs import generate, load
from edgesplit.generation import Prompt
from edgesplit.preprocess.base import available, load_preprocessors
from edgesplit.preprocess.clean import Cleaner, clean_text
from edgesplit.preprocess.compress import Compressor, select_lines
from edgesplit.preprocess.extract import LogExtractor, extract_fields
from edgesplit.server import AppServer

LOG = """2026-01-12T10:22:01Z pump P2 temp 78.5 °C pressure 3,2 bar
Jan 12 10:22:05 plc kern: ERR-17 code 503 at 1500 rpm
12/01/2026 10:23 SPN 110 FMI 0 supply 230 V, load 12 %
2026-01-12T10:24:00Z pump P2 fault E1042 (0x8004)"""


def test_the_three_built_ins_are_registered_as_entry_points() -> None:
    assert {"clean", "extract", "compress"} <= set(available())


def test_an_unknown_pre_processor_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="no pre-processor 'summarise'"):
        load_preprocessors(["clean", "summarise"], load_settings())


def test_the_cloud_refuses_a_pre_processor_that_runs_when_escalating(tmp_path: Path) -> None:
    from edgesplit.server import build_node

    settings = load_settings(
        role="cloud", model=EDGE_MODEL, api_token="t", preprocessors=["compress"], data_dir=tmp_path
    )
    with pytest.raises(ConfigError, match="compress run when escalating"):
        build_node(settings)


@pytest.mark.parametrize(
    ("raw", "clean"),
    [
        ("Caf\u00c3\u00a9 closed", "Café closed"),  # UTF-8 read as Latin-1
        ("alarm\x07 at\x00 gate", "alarm at gate"),  # control characters
        ("too    many   spaces  \n", "too many spaces\n"),  # inner runs, trailing
        ("a\n\n\n\n\n\nb", "a\n\n\nb"),  # blank-line runs
        ("def f():\n    return  1", "def f():\n    return 1"),  # indentation is kept
        ("line one\tand\ttabs", "line one\tand\ttabs"),  # single tabs stay
    ],
)
def test_cleaning(raw: str, clean: str) -> None:
    assert clean_text(raw) == clean


def test_the_cleaner_touches_user_text_only_and_says_what_it_removed() -> None:
    prompt = Prompt(messages=(("system", "keep   this"), ("user", "fix\x07   this")))
    processed = Cleaner().apply(prompt)
    assert processed.prompt.messages == (("system", "keep   this"), ("user", "fix this"))
    assert processed.applied.changed and processed.applied.detail == {"chars_removed": 3}
    assert not Cleaner().apply(Prompt(messages=(("user", "fine"),))).applied.changed


def test_log_fields_timestamps_codes_and_readings() -> None:
    fields = extract_fields(LOG)
    assert fields["timestamps"] == [
        "2026-01-12T10:22:01Z",
        "Jan 12 10:22:05",
        "12/01/2026 10:23",
        "2026-01-12T10:24:00Z",
    ]
    assert fields["error_codes"] == ["ERR-17", "code 503", "SPN 110 FMI 0", "E1042", "0x8004"]
    readings = {(r["value"], r["unit"]) for r in fields["readings"]}
    assert {(78.5, "°C"), (3.2, "bar"), (1500.0, "rpm"), (230.0, "V"), (12.0, "%")} <= readings
    applied = LogExtractor().apply(Prompt(text=LOG)).applied
    assert applied.detail["tags"] == ["device-log", "error-codes"] and not applied.changed


def test_plain_text_yields_no_fields() -> None:
    applied = LogExtractor().apply(Prompt(messages=(("user", "What is the capital of France?"),))).applied
    assert applied.detail == {"fields": {}, "tags": []}


def test_select_lines_keeps_the_best_in_order_with_markers() -> None:
    lines = ["q?", "l0", "l1", "l2", "l3", "l4", "tail"]
    out = select_lines(lines, [1, 2, 3, 4, 5], np.array([0.1, 0.9, 0.2, 0.8, 0.0]), keep=2)
    assert out == ["q?", "[... 1 log line left out on the sending tier ...]", "l1",
                   "[... 1 log line left out on the sending tier ...]", "l3",
                   "[... 1 log line left out on the sending tier ...]", "tail"]  # fmt: skip


def test_the_committed_device_log_set_is_what_the_seed_generates() -> None:
    committed = load(Path(__file__).parent.parent / "eval" / "device_logs.jsonl")
    assert committed == generate()
    assert all(item.answer in item.prompt for item in committed)


def test_compression_keeps_the_lines_a_question_needs() -> None:
    compressor = Compressor(EDGE_MODEL, None, min_lines=40, keep_lines=24)
    for item in generate(4):
        processed = compressor.apply(Prompt(messages=(("user", item.prompt),)))
        sent = processed.prompt.messages[0][1]
        detail = processed.applied.detail
        assert item.answer in sent  # the fault line and the first warning survive
        assert sent.splitlines()[0] == item.prompt.splitlines()[0]  # the question is untouched
        assert detail["bytes_sent"] < detail["bytes_before"] / 2 and detail["lines_sent"] < detail["lines_before"]


def test_a_short_message_is_not_compressed() -> None:
    processed = Compressor(EDGE_MODEL, None, min_lines=40, keep_lines=24).apply(Prompt(text=LOG))
    assert not processed.applied.changed and processed.prompt == Prompt(text=LOG)


def test_a_node_cleans_extracts_and_compresses_what_it_sends_up(
    make_edge: EdgeFactory, echo_upstream: tuple[RecordingEcho, AppServer]
) -> None:
    recorder, server = echo_upstream
    edge = make_edge(
        upstream=server.url,
        upstream_token=CLOUD_TOKEN,
        link_probe_interval_s=0,
        privacy_default="allow",
        preprocessors=["clean", "extract", "compress"],
    )
    item = generate(1)[0]
    text = item.prompt.replace("status=ok", "status=ok\x07", 3)
    body = {"model": "edgesplit/cloud", "messages": [{"role": "user", "content": text}], "max_tokens": 8}
    reply = httpx.post(f"{edge.url}/v1/chat/completions", json=body, timeout=120)
    assert reply.status_code == 200, reply.text
    applied = {step["name"]: step for step in reply.json()["edgesplit"]["preprocessing"]}
    assert list(applied) == ["clean", "extract", "compress"]
    assert applied["clean"]["chars_removed"] == 3
    assert item.answer in applied["extract"]["fields"]["error_codes"]
    assert applied["compress"]["lines_sent"] < applied["compress"]["lines_before"]
    sent = json.loads(recorder.bodies[0])["messages"][0]["content"]
    assert "\x07" not in sent and item.answer in sent and len(sent) < len(text) / 2
    assert "left out on the sending tier" in sent
    fields = json.loads(recorder.headers[0]["x-edgesplit-fields"])  # the upstream gets the fields too
    assert item.answer in fields["extract"]["error_codes"]


def test_a_node_without_pre_processors_sends_the_text_as_it_came(
    make_edge: EdgeFactory, echo_upstream: tuple[RecordingEcho, AppServer]
) -> None:
    recorder, server = echo_upstream
    edge = make_edge(upstream=server.url, upstream_token=CLOUD_TOKEN, link_probe_interval_s=0, privacy_default="allow")
    text = "spaces   kept\x07"
    body = {"model": "edgesplit/cloud", "messages": [{"role": "user", "content": text}], "max_tokens": 8}
    reply = httpx.post(f"{edge.url}/v1/chat/completions", json=body, timeout=60)
    assert reply.json()["edgesplit"]["preprocessing"] == []
    assert json.loads(recorder.bodies[0])["messages"][0]["content"] == text
