"""bench/soak.py, short: a device → local → cloud chain under load for 45 s, the link flapping every 10 s.

Nothing may be lost (every request answered or deferred, every deferred job finished) and no
job may be delivered twice. RSS is reported, not asserted: 45 s is too short for a growth figure.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = [pytest.mark.slow, pytest.mark.serial]  # whole tier processes under load: run alone

BENCH = Path(__file__).parent.parent / "bench" / "soak.py"


def test_short_soak_loses_nothing_and_delivers_once(tmp_path: Path) -> None:
    args = [
        sys.executable,
        str(BENCH),
        "--seconds",
        "45",
        "--flap-s",
        "10",
        "--rate",
        "1",
        "--drain-s",
        "120",
        "--out",
        str(tmp_path),
    ]
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        stdout, stderr = proc.communicate(timeout=480)
    finally:
        with contextlib.suppress(ProcessLookupError):  # the bench's tier processes go too
            os.killpg(proc.pid, signal.SIGKILL)
        if proc.poll() is None:
            proc.communicate()
    assert "| sent |" in stdout, stdout[-3000:] + stderr[-3000:]
    sent = int(stdout.split("| sent | ")[1].split(" ")[0])
    assert sent >= 10
    assert "| lost | 0 |" in stdout, stdout
    assert "| unfinished jobs | 0 |" in stdout and "| jobs delivered twice or more | 0 |" in stdout, stdout
    assert stdout.count(" changes)") == 1 and "(0 changes)" not in stdout  # the link did flap
