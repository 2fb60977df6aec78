"""The eval results store: items, each tier's answer and its quality label, in SQLite.

A run writes each answer and each label as soon as it exists, so an interrupted run resumes
where it stopped; replaying policies reads only this store, never the models.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from edgesplit.evaluation.datasets import EvalItem

__all__ = ["Answer", "AnswerSignals", "EvalResults", "ItemRecord", "Label"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS items (
    key TEXT PRIMARY KEY, set_name TEXT NOT NULL, item_id TEXT NOT NULL, split TEXT NOT NULL,
    category TEXT NOT NULL, label_kind TEXT NOT NULL, prompt TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS answers (
    key TEXT NOT NULL REFERENCES items(key), tier TEXT NOT NULL, model TEXT NOT NULL, text TEXT NOT NULL,
    prompt_tokens INTEGER NOT NULL, completion_tokens INTEGER NOT NULL, mean_logprob REAL, probe_logprob REAL,
    ms REAL NOT NULL, hidden BLOB, PRIMARY KEY (key, tier)
);
CREATE TABLE IF NOT EXISTS signals (
    key TEXT NOT NULL REFERENCES items(key), tier TEXT NOT NULL, logprobs BLOB NOT NULL, sample TEXT NOT NULL,
    sample_ms REAL NOT NULL, scored_by TEXT NOT NULL, next_logprobs BLOB NOT NULL, next_ms REAL NOT NULL,
    PRIMARY KEY (key, tier)
);
CREATE TABLE IF NOT EXISTS labels (
    key TEXT NOT NULL REFERENCES items(key), tier TEXT NOT NULL, quality REAL NOT NULL, method TEXT NOT NULL,
    detail TEXT NOT NULL, ms REAL NOT NULL, PRIMARY KEY (key, tier)
);
"""


@dataclass(frozen=True)
class Answer:
    tier: str
    model: str
    text: str
    prompt_tokens: int
    completion_tokens: int
    mean_logprob: float | None
    probe_logprob: float | None  # over the cascade's probe tokens
    ms: float
    hidden: np.ndarray | None = None  # edge only: the prompt's last hidden state
    token_logprobs: tuple[float, ...] = ()  # when just generated (stored with the signals, not here)


@dataclass(frozen=True)
class Label:
    quality: float  # 0..1
    method: str  # how it was obtained: tests, judge, judge-reference
    detail: str
    ms: float


@dataclass(frozen=True)
class AnswerSignals:
    """What an answer-level check can read about one tier's greedy answer (cascade signals)."""

    logprobs: np.ndarray  # the answer's per-token log-probabilities
    sample: str  # a second answer, sampled (self-consistency)
    sample_ms: float
    scored_by: str  # the next tier's model
    next_logprobs: np.ndarray  # the answer's tokens as the next tier's model scores them (one prefill)
    next_ms: float


@dataclass(frozen=True)
class ItemRecord:
    """Everything stored about one item for one hop: what policies are replayed over.

    ``edge`` is the hop's lower tier (the device, or the local server), ``cloud`` the top tier."""

    key: str
    set: str
    split: str
    category: str
    label_kind: str
    prompt: str
    edge: Answer
    cloud: Answer
    edge_quality: float
    cloud_quality: float


class EvalResults:
    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._db = sqlite3.connect(path)
        self._db.executescript(_SCHEMA)
        self._drop_biased_labels()

    def _drop_biased_labels(self) -> None:
        """Stores from before 2026-12 labelled ShareGPT pairwise: the cloud answer was the reference
        (1.0) and the edge scored P(win or tie), so equal answers scored about 0.6 against 1.0. Those
        labels favour a tier by construction; drop them, so the next run rates every answer alike."""
        with self._db:
            self._db.execute("DELETE FROM labels WHERE method IN ('judge-pairwise', 'reference')")
            self._db.execute("UPDATE items SET label_kind = 'judge' WHERE label_kind = 'judge-pairwise'")

    def close(self) -> None:
        self._db.close()

    def add_items(self, items: Iterable[EvalItem]) -> None:
        with self._db:
            self._db.executemany(
                "INSERT OR IGNORE INTO items VALUES (?, ?, ?, ?, ?, ?, ?)",
                [(i.key, i.set, i.id, i.split, i.category, i.label_kind, i.prompt) for i in items],
            )

    def add_record(self, record: ItemRecord, method: str = "imported") -> None:
        """Store a complete record (both answers and labels), e.g. results produced elsewhere."""
        with self._db:
            self._db.execute(
                "INSERT OR IGNORE INTO items VALUES (?, ?, ?, ?, ?, ?, ?)",
                (record.key, record.set, record.key.split("/", 1)[-1], record.split, record.category,
                 record.label_kind, record.prompt),
            )  # fmt: skip
        for tier, answer, quality in (
            ("edge", record.edge, record.edge_quality),
            ("cloud", record.cloud, record.cloud_quality),
        ):
            self.put_answer(record.key, answer)
            self.put_label(record.key, tier, Label(quality, method, "", 0.0))

    def answer(self, key: str, tier: str) -> Answer | None:
        row = self._db.execute(
            "SELECT tier, model, text, prompt_tokens, completion_tokens, mean_logprob, probe_logprob, ms, hidden "
            "FROM answers WHERE key = ? AND tier = ?",
            (key, tier),
        ).fetchone()
        return _answer(row) if row else None

    def put_answer(self, key: str, answer: Answer) -> None:
        hidden = answer.hidden.astype(np.float32).tobytes() if answer.hidden is not None else None
        with self._db:
            self._db.execute(
                "INSERT OR REPLACE INTO answers VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    key,
                    answer.tier,
                    answer.model,
                    answer.text,
                    answer.prompt_tokens,
                    answer.completion_tokens,
                    answer.mean_logprob,
                    answer.probe_logprob,
                    answer.ms,
                    hidden,
                ),
            )

    def signals(self, key: str, tier: str) -> AnswerSignals | None:
        row = self._db.execute(
            "SELECT logprobs, sample, sample_ms, scored_by, next_logprobs, next_ms FROM signals "
            "WHERE key = ? AND tier = ?",
            (key, tier),
        ).fetchone()
        if row is None:
            return None
        logprobs, sample, sample_ms, scored_by, next_logprobs, next_ms = row
        return AnswerSignals(
            np.frombuffer(logprobs, dtype=np.float32).copy(), sample, sample_ms, scored_by,
            np.frombuffer(next_logprobs, dtype=np.float32).copy(), next_ms,
        )  # fmt: skip

    def put_signals(self, key: str, tier: str, signals: AnswerSignals) -> None:
        with self._db:
            self._db.execute(
                "INSERT OR REPLACE INTO signals VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (key, tier, signals.logprobs.astype(np.float32).tobytes(), signals.sample, signals.sample_ms,
                 signals.scored_by, signals.next_logprobs.astype(np.float32).tobytes(), signals.next_ms),
            )  # fmt: skip

    def label(self, key: str, tier: str) -> Label | None:
        row = self._db.execute(
            "SELECT quality, method, detail, ms FROM labels WHERE key = ? AND tier = ?", (key, tier)
        ).fetchone()
        return Label(*row) if row else None

    def put_label(self, key: str, tier: str, label: Label) -> None:
        with self._db:
            self._db.execute(
                "INSERT OR REPLACE INTO labels VALUES (?, ?, ?, ?, ?, ?)",
                (key, tier, label.quality, label.method, label.detail, label.ms),
            )

    def records(self, sets: Iterable[str] | None = None, tier: str = "edge") -> list[ItemRecord]:
        """Items with both answers and both labels, in key order: one hop, ``tier`` against the cloud.

        ``tier`` is the hop's lower tier (``edge`` = the device, or ``local``); its answer and label
        fill the record's ``edge`` fields, which always mean "the tier that may keep the request"."""
        rows = self._db.execute(
            "SELECT key, set_name, split, category, label_kind, prompt FROM items ORDER BY key"
        ).fetchall()
        wanted = set(sets) if sets is not None else None
        out = []
        for key, set_name, split, category, label_kind, prompt in rows:
            if wanted is not None and set_name not in wanted:
                continue
            edge, cloud = self.answer(key, tier), self.answer(key, "cloud")
            edge_label, cloud_label = self.label(key, tier), self.label(key, "cloud")
            if edge is None or cloud is None or edge_label is None or cloud_label is None:
                continue
            out.append(
                ItemRecord(
                    key, set_name, split, category, label_kind, prompt, edge, cloud,
                    edge_label.quality, cloud_label.quality,
                )
            )  # fmt: skip
        return out

    def qualities(self, sets: Iterable[str] | None = None) -> dict[str, tuple[str, str, dict[str, float]]]:
        """key -> (set, split, {tier: quality}) for every labelled item, whatever tiers it has."""
        rows = self._db.execute(
            "SELECT i.key, i.set_name, i.split, l.tier, l.quality FROM items i JOIN labels l USING (key) ORDER BY i.key"
        ).fetchall()
        wanted = set(sets) if sets is not None else None
        out: dict[str, tuple[str, str, dict[str, float]]] = {}
        for key, set_name, split, tier, quality in rows:
            if wanted is None or set_name in wanted:
                out.setdefault(key, (set_name, split, {}))[2][tier] = float(quality)
        return out

    def timings(self) -> dict[str, float]:
        """Seconds spent per stage (generation per tier, labelling), for 'how long a full run takes'."""
        out = {f"generate {tier}": ms / 1000 for tier, ms in self._db.execute(
            "SELECT tier, SUM(ms) FROM answers GROUP BY tier")}  # fmt: skip
        for (ms,) in self._db.execute("SELECT SUM(ms) FROM labels"):
            out["label"] = (ms or 0.0) / 1000
        return out


def _answer(row: tuple[object, ...]) -> Answer:
    tier, model, text, prompt_tokens, completion_tokens, mean_lp, probe_lp, ms, hidden = row
    vector = np.frombuffer(hidden, dtype=np.float32).copy() if isinstance(hidden, bytes) else None
    return Answer(
        str(tier), str(model), str(text), int(prompt_tokens), int(completion_tokens),  # type: ignore[call-overload]
        mean_lp, probe_lp, float(ms), vector,  # type: ignore[arg-type]
    )  # fmt: skip
