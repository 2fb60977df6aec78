"""The link emulator: measured latency and bandwidth within tolerance, outages, and a cut mid-stream."""

from __future__ import annotations

import socket
import socketserver
import statistics
import threading
import time
from collections.abc import Iterator

import pytest

from conftest import CLOUD_TOKEN, EdgeFactory, client_for
from edgesplit.errors import ConfigError
from edgesplit.server import NodeServer
from edgesplit.transport.netem import PROFILES, LinkEmulator, LinkProfile


class _Echo(socketserver.BaseRequestHandler):
    def handle(self) -> None:
        while data := self.request.recv(65536):
            self.request.sendall(data)


@pytest.fixture
def echo() -> Iterator[int]:
    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), _Echo)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield int(server.server_address[1])
    server.shutdown()
    server.server_close()


def _connect(emulator: LinkEmulator, timeout_s: float = 5.0) -> socket.socket:
    return socket.create_connection(("127.0.0.1", emulator.port), timeout=timeout_s)


def _round_trip_s(sock: socket.socket) -> float:
    start = time.perf_counter()
    sock.sendall(b"x")
    assert sock.recv(1) == b"x"
    return time.perf_counter() - start


def test_latency_is_added_each_way(echo: int) -> None:
    with LinkEmulator("127.0.0.1", echo, LinkProfile("test", latency_ms=50)) as link, _connect(link) as sock:
        rtt = statistics.median(_round_trip_s(sock) for _ in range(5))
    assert 0.095 <= rtt <= 0.16, rtt


def test_bandwidth_cap_paces_bytes(echo: int) -> None:
    payload = b"y" * 500_000  # 4 Mbit each way at 8 Mbit/s: about 0.5 s, both directions pipelined
    with LinkEmulator("127.0.0.1", echo, LinkProfile("test", bandwidth_mbps=8)) as link, _connect(link) as sock:
        start = time.perf_counter()
        sender = threading.Thread(target=sock.sendall, args=(payload,))
        sender.start()
        received = 0
        while received < len(payload):
            received += len(sock.recv(65536))
        elapsed = time.perf_counter() - start
        sender.join()
    assert 0.45 <= elapsed <= 0.9, elapsed


def test_profile_switch_takes_effect(echo: int) -> None:
    with LinkEmulator("127.0.0.1", echo, "lan") as link, _connect(link) as sock:
        fast = _round_trip_s(sock)
        link.set_profile(LinkProfile("slow", latency_ms=40))
        slow = _round_trip_s(sock)
    assert fast < 0.02 and slow >= 0.08


def _is_dead(sock: socket.socket) -> bool:
    try:
        sock.sendall(b"z")
        return sock.recv(1) == b""
    except (ConnectionError, OSError):
        return True


def _new_connection_dead(link: LinkEmulator) -> bool:
    with _connect(link) as sock:
        return _is_dead(sock)


def test_outages_refuse_cut_blackhole_and_restore(echo: int) -> None:
    with LinkEmulator("127.0.0.1", echo, "lan") as link, _connect(link) as survivor:
        assert _round_trip_s(survivor) < 0.1
        link.outage("refuse")
        assert _new_connection_dead(link)
        assert _round_trip_s(survivor) < 0.1  # refuse leaves open connections alone
        link.outage("cut")
        assert _is_dead(survivor)
        link.outage("blackhole")
        with _connect(link, timeout_s=0.3) as held:
            held.sendall(b"q")
            with pytest.raises(TimeoutError):
                held.recv(1)
            link.restore()
            assert held.recv(1) == b"q"  # blackholed bytes were held, not lost
        with _connect(link) as fresh:
            assert _round_trip_s(fresh) < 0.1


def test_named_profiles_and_unknown_name(echo: int) -> None:
    assert {"lan", "4g", "satellite", "flaky", "down"} <= set(PROFILES)
    with pytest.raises(ConfigError, match="known"):
        LinkEmulator("127.0.0.1", echo, "carrier-pigeon")
    with LinkEmulator("127.0.0.1", echo, "down") as link:
        assert _new_connection_dead(link)


def test_going_down_takes_open_connections_with_it(echo: int) -> None:
    """A kept-alive upstream connection must not outlive the link, or "down" is not down."""
    with LinkEmulator("127.0.0.1", echo, "lan") as link, _connect(link) as open_one:
        assert _round_trip_s(open_one) < 0.1
        link.set_profile("down")
        assert _is_dead(open_one) and _new_connection_dead(link)


def test_link_cut_mid_stream_is_finished_on_the_edge(make_edge: EdgeFactory, cloud: NodeServer) -> None:
    port = int(cloud.url.rsplit(":", 1)[1])
    with LinkEmulator("127.0.0.1", port, LinkProfile("test", latency_ms=5)) as link:
        edge = make_edge(upstream=link.url, upstream_token=CLOUD_TOKEN, upstream_timeout_s=5)
        stream = client_for(edge).chat.completions.create(
            model="edgesplit/cloud",
            messages=[{"role": "user", "content": "Count from 1 to 100, separated by commas."}],
            max_tokens=64,
            temperature=0,
            stream=True,
        )
        pieces: list[str] = []
        final = None
        for chunk in stream:
            if chunk.choices and chunk.choices[0].delta.content:
                pieces.append(chunk.choices[0].delta.content)
                if len(pieces) == 3:
                    link.outage("cut")
            if chunk.choices and chunk.choices[0].finish_reason:
                final = chunk
    assert final is not None
    meta = final.model_extra["edgesplit"]
    assert meta["fallback"] is True and "finished on the edge" in meta["reason"]
    assert len(pieces) > 3


def test_netem_cli_switches_profiles(echo: int) -> None:
    from typer.testing import CliRunner

    from edgesplit.cli import app

    commands = "profile 4g\noutage cut\nrestore\nbogus\nprofile moon\nquit\n"
    result = CliRunner().invoke(app, ["netem", "--target", f"127.0.0.1:{echo}"], input=commands)
    assert result.exit_code == 0, result.output
    assert "name='4g'" in result.output and "outage='cut'" in result.output
    assert "commands:" in result.output and "unknown link profile 'moon'" in result.output


@pytest.mark.parametrize("name", ["lan", "4g", "flaky", "satellite"])
def test_named_profile_round_trip_matches_its_latency(echo: int, name: str) -> None:
    link_profile = PROFILES[name]
    with LinkEmulator("127.0.0.1", echo, name) as link, _connect(link) as sock:
        rtt_ms = statistics.median(_round_trip_s(sock) for _ in range(7)) * 1000  # the median shrugs off "loss"
    low = 2 * (link_profile.latency_ms - link_profile.jitter_ms)
    high = 2 * (link_profile.latency_ms + link_profile.jitter_ms) + 15  # + loopback and scheduling
    assert low <= rtt_ms <= high, (name, rtt_ms, low, high)
