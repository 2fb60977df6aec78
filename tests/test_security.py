"""Security between tiers: TLS with a site CA (and a wrong CA refused), token rotation, per-client rate limits."""

from __future__ import annotations

import datetime as dt
import ipaddress
import ssl
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from conftest import EdgeFactory
from doubles import RecordingEcho
from edgesplit.server import AppServer
from edgesplit.transport.tls import TlsFiles

HI = [{"role": "user", "content": "Say hi."}]


def _name(common: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common)])


def _ca(folder: Path, common: str) -> tuple[ec.EllipticCurvePrivateKey, x509.Certificate, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder().subject_name(_name(common)).issuer_name(_name(common)).public_key(key.public_key())
        .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .sign(key, hashes.SHA256())
    )  # fmt: skip
    path = folder / f"{common}.pem"
    path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return key, cert, path


def _leaf(folder: Path, ca_key: ec.EllipticCurvePrivateKey, ca: x509.Certificate) -> TlsFiles:
    key = ec.generate_private_key(ec.SECP256R1())
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder().subject_name(_name("edgesplit-node")).issuer_name(ca.subject)
        .public_key(key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5)).not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False)
        .sign(ca_key, hashes.SHA256())
    )  # fmt: skip
    (folder / "node.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (folder / "node.key").write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return TlsFiles(folder / "node.pem", folder / "node.key")


@pytest.fixture
def pki(tmp_path: Path) -> tuple[TlsFiles, Path, Path]:
    """A site CA, a node certificate it signed (for 127.0.0.1), and another CA that signed nothing."""
    key, ca, ca_path = _ca(tmp_path, "site-ca")
    _, _, wrong = _ca(tmp_path, "other-ca")
    return _leaf(tmp_path, key, ca), ca_path, wrong


def test_tiers_talk_tls_through_the_site_ca_and_refuse_another(
    make_edge: EdgeFactory, pki: tuple[TlsFiles, Path, Path]
) -> None:
    files, ca, wrong = pki
    echo = RecordingEcho()
    with AppServer(echo.app, tls=files) as upstream:
        assert upstream.url.startswith("https://")
        edge = make_edge(upstream=upstream.url, upstream_ca=ca, tls_cert=files.cert, tls_key=files.key)
        assert edge.url.startswith("https://")
        trusted = ssl.create_default_context(cafile=str(ca))
        body = {"model": "edgesplit/cloud", "messages": HI, "max_tokens": 4}
        reply = httpx.post(f"{edge.url}/v1/chat/completions", json=body, verify=trusted, timeout=60)
        assert reply.status_code == 200 and reply.json()["edgesplit"]["fallback"] is False
        assert reply.json()["choices"][0]["message"]["content"] == "Say hi."  # the echo, over TLS both ways
        with pytest.raises(httpx.ConnectError):  # a client that does not trust the site CA is refused
            httpx.get(f"{edge.url}/healthz", timeout=10)
        stranger = make_edge(upstream=upstream.url, upstream_ca=wrong)
        refused = httpx.post(
            f"{stranger.url}/v1/chat/completions", json=body, headers={"x-edgesplit-on-cloud-unavailable": "error"}
        )
        assert refused.status_code == 502 and "CERTIFICATE_VERIFY_FAILED" in refused.json()["error"]["message"]
        for node in (edge, stranger):  # before the upstream: its TLS connections close from the client side
            node.stop()
    assert len(echo.bodies) == 1  # the refused tier sent nothing


def test_tokens_rotate_without_cutting_a_request_in_flight(make_edge: EdgeFactory, tmp_path: Path) -> None:
    tokens = tmp_path / "tokens"
    tokens.write_text("old-token\n")
    edge = make_edge(api_tokens_file=tokens)
    body = {"model": "edgesplit/edge", "messages": HI, "max_tokens": 48, "stream": True}
    lines: list[str] = []
    streaming = threading.Event()

    def stream() -> None:
        headers = {"authorization": "Bearer old-token"}
        with httpx.stream("POST", f"{edge.url}/v1/chat/completions", json=body, headers=headers, timeout=60) as r:
            for line in r.iter_lines():
                lines.append(line)
                streaming.set()

    reader = threading.Thread(target=stream)
    reader.start()
    assert streaming.wait(timeout=60)
    tokens.write_text("new-token\n")  # the old token goes while its stream runs
    reader.join(timeout=60)
    assert [line for line in lines if line][-1] == "data: [DONE]"  # the whole answer, not cut
    time.sleep(1.2)  # the file is looked at once a second
    models = f"{edge.url}/v1/models"
    assert httpx.get(models, headers={"authorization": "Bearer old-token"}).status_code == 401
    assert httpx.get(models, headers={"authorization": "Bearer new-token"}).status_code == 200


def test_each_client_has_its_own_rate_limit(make_edge: EdgeFactory) -> None:
    edge = make_edge(api_token="alpha", api_tokens=["beta"], rate_limit_rps=0.2, rate_limit_burst=2)
    models = f"{edge.url}/v1/models"
    alpha, beta = ({"authorization": f"Bearer {t}"} for t in ("alpha", "beta"))
    assert [httpx.get(models, headers=alpha).status_code for _ in range(2)] == [200, 200]
    limited = httpx.get(models, headers=alpha)
    assert limited.status_code == 429 and limited.json()["error"]["code"] == "rate_limited"
    assert 1 <= int(limited.headers["retry-after"]) <= 5
    assert httpx.get(models, headers=beta).status_code == 200  # another client's bucket is full
    assert httpx.get(f"{edge.url}/healthz").status_code == 200  # health is never limited
    assert "edgesplit_rate_limited_total 1.0" in httpx.get(f"{edge.url}/metrics").text


def test_tls_settings_are_checked_at_start(tmp_path: Path) -> None:
    from edgesplit.config import load_settings
    from edgesplit.errors import ConfigError

    cert = tmp_path / "node.pem"
    cert.write_text("not really")
    with pytest.raises(ConfigError, match="tls_cert, tls_key"):
        load_settings(role="edge", tls_cert=cert)
    with pytest.raises(ConfigError, match="upstream_ca: no such file"):
        load_settings(role="edge", upstream="https://127.0.0.1:9", upstream_ca=tmp_path / "missing.pem")


def test_every_route_refuses_a_body_over_its_limit(make_edge: EdgeFactory) -> None:
    edge = make_edge(max_body_bytes=4096)
    big = b"x" * 10_000
    for path in ("/v1/feedback", "/v1/chat/completions", "/v1/models"):  # parsing or not, declared length
        reply = httpx.post(f"{edge.url}{path}", content=big, headers={"content-type": "application/json"})
        assert reply.status_code == 413 and reply.json()["error"]["code"] == "request_too_large", path

    def chunks() -> Iterator[bytes]:  # no content-length: counted as it streams
        for _ in range(10):
            yield b"y" * 1000

    streamed = httpx.post(f"{edge.url}/v1/chat/completions", content=chunks())
    assert streamed.status_code == 413


def test_split_frames_have_their_own_limit(make_edge: EdgeFactory) -> None:
    """Frames go to /v1/split/...: bounded by split_max_frame_bytes in the Guard, not max_body_bytes."""
    edge = make_edge(max_body_bytes=1024, split_max_frame_bytes=4096)
    url = f"{edge.url}/v1/split/sessions/s1/forward"
    over = httpx.post(url, content=b"f" * 5000, headers={"content-type": "application/octet-stream"})
    assert over.status_code == 413 and "4096" in over.json()["error"]["message"]
    under = httpx.post(url, content=b"f" * 3000, headers={"content-type": "application/octet-stream"})
    assert under.status_code == 404  # within the frame limit, past max_body_bytes: it reaches the router


def test_no_personal_value_and_no_token_in_logs_metrics_or_stats(
    make_edge: EdgeFactory, echo_upstream: tuple[RecordingEcho, AppServer], caplog: pytest.LogCaptureFixture
) -> None:
    """A PII corpus run with DEBUG logging, through an edge that needs a token and sends one upstream."""
    import logging

    from edgesplit.evaluation.pii_corpus import blind_corpus

    _, upstream = echo_upstream
    secrets = ("edge-secret-token", "upstream-secret-token")
    edge = make_edge(upstream=upstream.url, api_token=secrets[0], upstream_token=secrets[1])
    headers = {"authorization": f"Bearer {secrets[0]}"}
    messages = blind_corpus(24)
    with caplog.at_level(logging.DEBUG):
        for i, message in enumerate(messages):
            body = {"model": "edgesplit/cloud", "messages": [{"role": "user", "content": message.text}],
                    "max_tokens": 8, "stream": i % 2 == 1}  # fmt: skip
            assert httpx.post(f"{edge.url}/v1/chat/completions", json=body, headers=headers).status_code == 200
        httpx.post(f"{edge.url}/v1/chat/completions", json={"model": "nope"}, headers=headers)  # an error path
        httpx.get(f"{edge.url}/v1/models", headers={"authorization": "Bearer wrong-token"})  # a refused token
    seen = caplog.text + httpx.get(f"{edge.url}/metrics").text
    seen += httpx.get(f"{edge.url}/v1/stats", headers=headers).text
    values = {message.text[s.start : s.end] for message in messages for s in message.labels}
    assert len(values) > 50
    assert [v for v in values if v in seen] == [] and [t for t in (*secrets, "wrong-token") if t in seen] == []
