"""Small fixed eval data for the router tests: synthetic records with a known answer.

Item i is a "coding" prompt (the edge fails it) when i % 3 == 0, a "chat" prompt otherwise
(the edge does as well as the cloud). The hidden state carries the same signal, plus noise,
so a scorer that learns anything separates the two; the cascade's confidence is made
deliberately misleading (higher on the coding items), as it is on the real models.
"""

from __future__ import annotations

import numpy as np

from edgesplit.evaluation.datasets import split_of
from edgesplit.evaluation.results import Answer, ItemRecord

HIDDEN_DIM = 8


def synthetic_embed(text: str) -> np.ndarray:
    """A stand-in for the token-embedding summary: deterministic per text, with the coding signal."""
    rng = np.random.default_rng(abs(hash(text)) % 2**32)
    vector = rng.normal(size=HIDDEN_DIM).astype(np.float32)
    vector[1] = 3.0 if "python" in text else -3.0
    return vector


def synthetic_records(n: int = 120, seed: int = 0, set_name: str = "synthetic") -> list[ItemRecord]:
    rng = np.random.default_rng(seed)
    records = []
    for i in range(n):
        coding = i % 3 == 0
        hidden = rng.normal(size=HIDDEN_DIM).astype(np.float32)
        hidden[0] = (2.0 if coding else -2.0) + rng.normal(scale=0.5)
        prompt = f"Write a python function number {i}" if coding else f"Say hello to person {i}?"
        key = f"{set_name}/{i}"
        edge = Answer(
            "edge", "edge-model", "edge answer", 20 + i % 7, 10, -0.2 if coding else -0.8, -0.2, 100.0, hidden
        )
        cloud = Answer("cloud", "cloud-model", "cloud answer", 20 + i % 7, 12, -0.3, -0.3, 900.0, None)
        records.append(
            ItemRecord(key, set_name, split_of(key), "coding" if coding else "chat", "tests", prompt, edge, cloud,
                       0.0 if coding else 1.0, 1.0)
        )  # fmt: skip
    return records
