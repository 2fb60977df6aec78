"""bench/offline.py as a slow test: deferred jobs survive a SIGKILLed edge and run exactly once on the cloud."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = [pytest.mark.slow, pytest.mark.serial]  # whole tier processes under load: run alone

BENCH = Path(__file__).parent.parent / "bench" / "offline.py"


def test_fault_run_small(tmp_path: Path) -> None:
    args = [
        sys.executable,
        str(BENCH),
        "--jobs",
        "30",
        "--kills",
        "1",
        "--requests",
        "2",
        "--no-plot",
        "--out",
        str(tmp_path),
    ]
    # its own process group: on a timeout the edge processes the bench started go too, not only the bench
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        stdout, stderr = proc.communicate(timeout=300)
    finally:
        with contextlib.suppress(ProcessLookupError):  # the bench and anything of its group still running
            os.killpg(proc.pid, signal.SIGKILL)
        if proc.poll() is None:
            proc.communicate()
    assert proc.returncode == 0, stdout[-3000:] + stderr[-3000:]
    assert "fault test: PASS" in stdout
    assert "| jobs done | 30 |" in stdout
    assert "| requests the cloud completed more than once | 0 |" in stdout
