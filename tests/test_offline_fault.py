"""bench/offline.py as a slow test: deferred jobs survive a SIGKILLed edge and run exactly once on the cloud."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

BENCH = Path(__file__).parent.parent / "bench" / "offline.py"


def test_fault_run_small() -> None:
    args = [sys.executable, str(BENCH), "--jobs", "30", "--kills", "1", "--requests", "2", "--no-plot"]
    done = subprocess.run(args, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "fault test: PASS" in done.stdout
    assert "| jobs done | 30 |" in done.stdout
    assert "| requests the cloud completed more than once | 0 |" in done.stdout
