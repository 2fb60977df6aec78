"""The dashboard in a real browser: Debian's Chromium, headless, driven by Playwright, against a real edge.

The edge (real SmolLM2) has a recording echo upstream and needs an API token. Demo traffic goes
through it (edge answers, cloud answers with PII, streamed and not, a batch job); the page must
load with no console error, every chart must have data points, and a screenshot is saved as
bench/out/dashboard.png.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import httpx
import openai
import pytest

from conftest import EdgeFactory
from doubles import RecordingEcho
from edgesplit.server import AppServer

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
TOKEN = "dashboard-test-token"
SCREENSHOT = Path(__file__).parent.parent / "bench" / "out" / "dashboard.png"
FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
         "--no-first-run", "--disable-dev-shm-usage"]  # fmt: skip
# Every chart has a non-null point, the bar lists have entries, the versions table has rows, and
# the upstreams table has the edge's one upstream (node.upstreams of /v1/stats).
ALL_DRAWN = """() => {
  const s = window.edgesplit;
  const drawn = (id) => document.querySelector(`section#${id} .uplot canvas`) !== null
    && s.charts[id].data.slice(1).some((xs) => xs.some((v) => v !== null));
  return ["served", "ttft", "token", "link", "outbox"].every(drawn)
    && Object.keys(s.bars.escalations || {}).length > 0 && Object.keys(s.bars.redactions || {}).length > 0
    && document.querySelectorAll("#versions tr").length > 3
    && document.querySelectorAll("#upstreams tbody tr td").length === 8;
}"""


def _demo_traffic(url: str) -> None:
    client = _client(url)
    for i, (model, stream) in enumerate([("edgesplit/edge", False), ("edgesplit/cloud", False),
                                         ("edgesplit/cloud", True), ("edgesplit/edge", True)]):  # fmt: skip
        text = f"Ticket {i}: patient Ana Lima, CPF 529.982.247-25, asks how to restart the scanner."
        reply = client.chat.completions.create(
            model=model, messages=[{"role": "user", "content": text}], max_tokens=8, temperature=0, stream=stream
        )
        if stream:
            list(reply)  # type: ignore[call-overload]
    job = {"model": "edgesplit/cloud", "messages": [{"role": "user", "content": "Summarise: pump 4 restarted."}],
           "max_tokens": 8, "edgesplit": {"priority": "batch"}}  # fmt: skip
    reply = httpx.post(f"{url}/v1/chat/completions", json=job, headers={"authorization": f"Bearer {TOKEN}"})
    assert reply.status_code == 202, reply.text  # a batch job: through the outbox


def _client(url: str) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{url}/v1", api_key=TOKEN, max_retries=0)


@pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="Debian's chromium is not installed (.ci/run installs it)")
def test_dashboard_draws_every_chart_in_chromium(
    make_edge: EdgeFactory, echo_upstream: tuple[RecordingEcho, AppServer], tmp_path: Path
) -> None:
    from playwright.sync_api import sync_playwright

    _, upstream = echo_upstream
    edge = make_edge(upstream=upstream.url, api_token=TOKEN, link_probe_interval_s=0.5)
    _demo_traffic(edge.url)
    errors: list[str] = []
    with sync_playwright() as p:
        browser = p.chromium.launch_persistent_context(
            str(tmp_path / "profile"), executable_path=CHROMIUM, headless=True, args=FLAGS,
            viewport={"width": 1280, "height": 1100},
        )  # fmt: skip
        try:
            page = browser.new_page()
            page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.goto(f"{edge.url}/dashboard#token={TOKEN}")
            page.wait_for_function(ALL_DRAWN, timeout=30_000)
            assert "token=" not in page.url  # the token leaves the address bar at once
            SCREENSHOT.parent.mkdir(exist_ok=True)
            page.screenshot(path=str(SCREENSHOT), full_page=True)
            title = page.text_content("#title") or ""
        finally:
            browser.close()
    assert errors == []
    assert "device" in title


@pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="Debian's chromium is not installed (.ci/run installs it)")
def test_dashboard_asks_for_the_token(
    make_edge: EdgeFactory, echo_upstream: tuple[RecordingEcho, AppServer], tmp_path: Path
) -> None:
    from playwright.sync_api import sync_playwright

    _, upstream = echo_upstream
    edge = make_edge(upstream=upstream.url, api_token=TOKEN)
    with sync_playwright() as p:
        browser = p.chromium.launch_persistent_context(
            str(tmp_path / "profile"), executable_path=CHROMIUM, headless=True, args=FLAGS
        )
        try:
            page = browser.new_page()
            page.goto(f"{edge.url}/dashboard")
            page.wait_for_selector("#login:not([hidden])", timeout=15_000)  # 401 from /v1/stats: it asks
            page.fill("#api-token", TOKEN)
            page.click("#login button")
            page.wait_for_selector("#login[hidden]", state="attached", timeout=15_000)
            page.wait_for_function("() => document.querySelectorAll('#versions tr').length > 3", timeout=15_000)
        finally:
            browser.close()
