"""Run generated code against HumanEval's tests: in a separate process, never in this one.

The program runs under ``python -I`` in an empty temporary directory with a wall-clock
timeout and resource limits (CPU seconds, address space, file size, no core dumps, a cap on
processes), with an empty environment. This contains mistakes of a small model; it is not a
sandbox against deliberately hostile code.
"""

from __future__ import annotations

import re
import signal
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

__all__ = ["ExecutionResult", "extract_code", "humaneval_program", "run_program"]

_FENCE = re.compile(r"```(?:[ \t]*(?:python|py|Python))?[ \t]*\n(.*?)(?:```|$)", re.DOTALL)
_MEMORY_BYTES = 1 << 30
_OUTPUT_BYTES = 1 << 20


@dataclass(frozen=True)
class ExecutionResult:
    passed: bool
    detail: str  # "passed", "timeout", or the last line of the error


def extract_code(answer: str) -> str:
    """The code in a chat answer: its fenced blocks if it has any (the longest wins), else the text."""
    blocks = [block for block in _FENCE.findall(answer) if block.strip()]
    if blocks:
        return str(max(blocks, key=len))
    return answer


def humaneval_program(problem: dict[str, str], answer: str) -> str:
    """A runnable test program: the model's function (or the prompt + its completion) and the tests."""
    code = extract_code(answer)
    entry = problem["entry_point"]
    if re.search(rf"^\s*def\s+{re.escape(entry)}\s*\(", code, re.MULTILINE):
        header = "\n".join(line for line in problem["prompt"].splitlines() if line.startswith(("import ", "from ")))
        body = f"{header}\n\n{code}"
    else:  # a bare completion of the body
        body = problem["prompt"] + code
    return f"{body}\n\n{problem['test']}\n\ncheck({entry})\n"


# The child sets its own limits, then runs the program: no preexec_fn in a threaded parent.
_LIMITED_RUN = """
import resource, runpy, sys
cpu, memory, output = (int(v) for v in sys.argv[1:4])
for limit, value in ((resource.RLIMIT_CPU, cpu), (resource.RLIMIT_AS, memory), (resource.RLIMIT_FSIZE, output),
                     (resource.RLIMIT_CORE, 0), (resource.RLIMIT_NPROC, 64)):
    resource.setrlimit(limit, (value, value))
sys.argv = sys.argv[4:]
runpy.run_path(sys.argv[0], run_name="__main__")
"""


def run_program(program: str, timeout_s: float = 10.0) -> ExecutionResult:
    """Run ``program`` in a child Python under limits; passed means exit status 0 in time."""
    with tempfile.TemporaryDirectory(prefix="edgesplit-exec-") as tmp:
        script = Path(tmp) / "program.py"
        script.write_text(program, encoding="utf-8")
        cpu = max(1, int(timeout_s))
        try:
            limits = [str(cpu), str(_MEMORY_BYTES), str(_OUTPUT_BYTES)]
            done = subprocess.run(
                [sys.executable, "-I", "-c", _LIMITED_RUN, *limits, str(script)],
                cwd=tmp,
                env={"PATH": "/usr/bin:/bin", "PYTHONHASHSEED": "0"},
                stdin=subprocess.DEVNULL,
                capture_output=True,
                timeout=timeout_s,
                check=False,
            )
        except subprocess.TimeoutExpired:
            return ExecutionResult(False, "timeout")
    if done.returncode == 0:
        return ExecutionResult(True, "passed")
    if done.returncode in (-signal.SIGXCPU, -signal.SIGKILL):  # its CPU seconds ran out before the wall clock did
        return ExecutionResult(False, "timeout")
    lines = done.stderr.decode("utf-8", errors="replace").strip().splitlines()
    return ExecutionResult(False, (lines[-1] if lines else f"exit status {done.returncode}")[:300])
