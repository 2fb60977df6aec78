"""A client that leaves cancels its generation and frees the model's slot, plain or streamed.

Checked against a real llama.cpp edge by watching ``edgesplit_model_running`` come back to 0.
The prompt makes the model count, which it does until max_tokens: a control below shows it runs
to ``length``, so a slot that comes free soon after the client left was freed by the cancel.
"""

from __future__ import annotations

import re
import time

import httpx
import pytest
from tests.conftest import EdgeFactory

COUNT = {"model": "edgesplit/edge", "prompt": "1, 2, 3, 4, 5, 6, 7, 8, 9, 10,", "temperature": 0}
LONG = 1024  # tokens: several seconds on this model, where a cancel takes one token
FREED_WITHIN_S = 3.0


def running(url: str) -> float:
    """The node's ``edgesplit_model_running`` summed over its models."""
    text = httpx.get(f"{url}/metrics", timeout=5).text
    return sum(float(v) for v in re.findall(r"^edgesplit_model_running\{[^}]*\} (\S+)$", text, re.M))


def freed_after(url: str, since: float) -> float:
    """Seconds from ``since`` until the model's slot is free (fails after FREED_WITHIN_S)."""
    while running(url) > 0:
        assert time.monotonic() - since < FREED_WITHIN_S, "the generation kept the model after its client left"
        time.sleep(0.05)
    return time.monotonic() - since


def wait_running(url: str) -> None:
    deadline = time.monotonic() + 10
    while running(url) == 0:
        assert time.monotonic() < deadline, "the generation never started"
        time.sleep(0.02)


@pytest.fixture
def edge_url(make_edge: EdgeFactory) -> str:
    return make_edge().url


def test_the_count_runs_to_max_tokens_without_a_cancel(edge_url: str) -> None:
    """The control: the model does not stop by itself, so only a cancel frees it early."""
    body = httpx.post(f"{edge_url}/v1/completions", json={**COUNT, "max_tokens": 96}, timeout=60).json()
    assert body["choices"][0]["finish_reason"] == "length"


def test_a_plain_request_whose_client_times_out_frees_the_slot(edge_url: str) -> None:
    with pytest.raises(httpx.ReadTimeout):
        httpx.post(f"{edge_url}/v1/completions", json={**COUNT, "max_tokens": LONG}, timeout=1.5)
    gone = time.monotonic()
    assert freed_after(edge_url, gone) < FREED_WITHIN_S
    metrics = httpx.get(f"{edge_url}/metrics", timeout=5).text
    assert re.search(r"^edgesplit_client_gone_total 1\.0$", metrics, re.M)
    # the slot is really free: a short request answers at once
    short = httpx.post(f"{edge_url}/v1/completions", json={**COUNT, "max_tokens": 4}, timeout=30)
    assert short.status_code == 200


def test_a_streamed_request_whose_client_disconnects_frees_the_slot(edge_url: str) -> None:
    body = {**COUNT, "max_tokens": LONG, "stream": True}
    with httpx.stream("POST", f"{edge_url}/v1/completions", json=body, timeout=30) as reply:
        lines = reply.iter_lines()
        assert sum(1 for line, _ in zip(lines, range(3), strict=False) if line.startswith("data:")) >= 1
    gone = time.monotonic()  # the connection is closed here, mid-stream
    assert freed_after(edge_url, gone) < FREED_WITHIN_S


def test_a_client_that_leaves_while_waiting_for_the_model_never_runs(edge_url: str) -> None:
    """A queued request whose client left is dropped before it takes the slot."""
    import threading

    first = threading.Thread(
        target=lambda: httpx.post(f"{edge_url}/v1/completions", json={**COUNT, "max_tokens": 192}, timeout=60)
    )
    first.start()
    wait_running(edge_url)
    with pytest.raises(httpx.ReadTimeout):  # waits behind the first, then gives up
        httpx.post(f"{edge_url}/v1/completions", json={**COUNT, "max_tokens": LONG}, timeout=0.5)
    first.join(timeout=60)
    gone = time.monotonic()
    assert freed_after(edge_url, gone) < FREED_WITHIN_S
