"""``edgesplit eval``: load both models once, run the chosen sets, store everything."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from edgesplit.admission import ModelQueue
from edgesplit.evaluation.datasets import EvalItem, load_set
from edgesplit.evaluation.harness import EvalConfig, Progress, run_items
from edgesplit.evaluation.results import EvalResults
from edgesplit.llama.backend import LocalBackend
from edgesplit.models import locate_model

__all__ = ["EvalModels", "load_items", "open_backends", "run_sets"]


@dataclass(frozen=True)
class EvalModels:
    edge: str = "smollm2-135m-instruct"
    cloud: str = "qwen2.5-coder-1.5b-instruct"
    n_ctx: int = 4096
    n_threads: int = 2


def load_items(sets: Sequence[str], limit: int | None) -> list[EvalItem]:
    """Items of each set, the first ``limit`` of each when given (a quick run)."""
    items: list[EvalItem] = []
    for name in sets:
        loaded = load_set(name)
        items.extend(loaded[:limit] if limit is not None else loaded)
    return items


@contextmanager
def open_backends(models: EvalModels) -> Iterator[tuple[LocalBackend, LocalBackend]]:
    def backend(name: str) -> LocalBackend:
        queue = ModelQueue(name, max_waiting=1, retry_after_s=1)
        return LocalBackend(name, locate_model(name), queue, models.n_ctx, models.n_threads)

    edge = backend(models.edge)
    try:
        cloud = backend(models.cloud)
        try:
            yield edge, cloud
        finally:
            cloud.close()
    finally:
        edge.close()


async def run_sets(
    items: Sequence[EvalItem],
    db: Path,
    models: EvalModels,
    config: EvalConfig,
    progress: Progress | None = None,
) -> Path:
    results = EvalResults(db)
    try:
        with open_backends(models) as (edge, cloud):
            await run_items(items, results, edge, cloud, config, progress)
    finally:
        results.close()
    return db
