"""``compress``: a long device log cut to the lines that matter, before it is sent up.

Runs only when a request escalates (the tier's own model answers from the whole text). In a
user message of at least ``compress_min_lines`` lines, the log lines (those with a timestamp
or a level word) are scored against the rest of the message, the question, with the tier's
own model: the cosine between the mean input-token embeddings of line and question (read from
the model's GGUF, no model compute), plus 1 for a line with an error or fault code or a level
word such as ERROR, FAIL or ALARM. The best ``compress_keep_lines`` are kept in their order,
with a marker where lines were left out; the question and every other line stay as they are.
The original stays on the tier; the detail says how many lines and bytes went up.
"""

from __future__ import annotations

import re
import threading
from typing import TYPE_CHECKING, Any

import numpy as np

from edgesplit.generation import Prompt
from edgesplit.preprocess.base import Applied, Processed, Stage, map_user_text
from edgesplit.preprocess.extract import _CODE, _TIMESTAMP

if TYPE_CHECKING:
    from edgesplit.config import Settings

__all__ = ["Compressor", "select_lines"]

_ALERT_WORDS = r"ERROR|ERR|FAIL(?:ED|URE)?|FAULT|ALARM|CRIT(?:ICAL)?|TRIP(?:PED)?"
_ALERT = re.compile(rf"\b(?:{_ALERT_WORDS})\b", re.I)  # earns a line the bonus
_LEVEL = re.compile(rf"\b(?:{_ALERT_WORDS}|WARN(?:ING)?)\b", re.I)  # makes a line a log line


def _is_log_line(line: str) -> bool:
    return bool(_TIMESTAMP.search(line) or _LEVEL.search(line))


def select_lines(lines: list[str], log: list[int], scores: np.ndarray, keep: int) -> list[str]:
    """``lines`` with only the ``keep`` best-scored log lines (``log``: their indices) left, in order.

    Every other line stays where it was; a marker stands for each run of left-out lines."""
    chosen = {log[i] for i in np.argsort(-scores, kind="stable")[:keep].tolist()}
    dropped = set(log) - chosen
    out, gap = [], 0
    for index, line in enumerate(lines):
        if index in dropped:
            gap += 1
            continue
        if gap:
            out.append(_marker(gap))
            gap = 0
        out.append(line)
    if gap:
        out.append(_marker(gap))
    return out


def _marker(gap: int) -> str:
    return f"[... {gap} log line{'s' if gap > 1 else ''} left out on the sending tier ...]"


class Compressor:
    name = "compress"
    stage: Stage = "escalation"

    def __init__(self, model: str, model_sha256: str | None, min_lines: int, keep_lines: int) -> None:
        self.model, self.model_sha256 = model, model_sha256
        self.min_lines, self.keep_lines = min_lines, keep_lines
        self._embed: Any = None
        self._lock = threading.Lock()

    def apply(self, prompt: Prompt) -> Processed:
        stats = {"lines_before": 0, "lines_sent": 0, "bytes_before": 0, "bytes_sent": 0}

        def change(text: str) -> str:
            compressed = self._compress(text)
            stats["lines_before"] += text.count("\n") + 1
            stats["lines_sent"] += compressed.count("\n") + 1
            stats["bytes_before"] += len(text.encode())
            stats["bytes_sent"] += len(compressed.encode())
            return compressed

        out = map_user_text(prompt, change)
        return Processed(out, Applied(self.name, out != prompt, stats))

    def _compress(self, text: str) -> str:
        lines = text.splitlines()
        log = [i for i, line in enumerate(lines) if _is_log_line(line)]
        if len(lines) < self.min_lines or len(log) <= self.keep_lines:
            return text
        logged = set(log)
        question = "\n".join(line for i, line in enumerate(lines) if i not in logged).strip()
        scores = self._scores([lines[i] for i in log], question)
        return "\n".join(select_lines(lines, log, scores, self.keep_lines))

    def _scores(self, lines: list[str], question: str) -> np.ndarray:
        embed = self._embedder()
        q = embed(question or " ")
        vectors = np.stack([embed(line) for line in lines])
        norms = np.linalg.norm(vectors, axis=1) * max(float(np.linalg.norm(q)), 1e-9)
        similarity = vectors @ q / np.maximum(norms, 1e-9)
        alerts = np.array([1.0 if (_ALERT.search(line) or _CODE.search(line)) else 0.0 for line in lines])
        return np.asarray(similarity + alerts)

    def _embedder(self) -> Any:
        """The tier model's token-embedding table and vocabulary, opened on first use."""
        with self._lock:
            if self._embed is None:
                from edgesplit.models import locate_model
                from edgesplit.routing.embedding import prompt_embedder

                self._embed = prompt_embedder(locate_model(self.model, self.model_sha256), as_chat=False)
            return self._embed


def compressor(settings: Settings) -> Compressor:
    """Entry point: compression with this tier's own model and the ``compress_*`` settings."""
    return Compressor(settings.model, settings.model_sha256, settings.compress_min_lines, settings.compress_keep_lines)
