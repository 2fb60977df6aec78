"""``edgesplit eval``: load every tier's model once, run the chosen sets, store everything."""

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
    """The ladder under evaluation; tier names are the results store's (``edge`` is the device)."""

    edge: str = "smollm2-135m-instruct"
    cloud: str = "qwen2.5-coder-1.5b-instruct"
    local: str | None = "qwen2.5-coder-0.5b-instruct"  # None: a two-tier run
    n_ctx: int = 4096
    n_threads: int = 2

    def tiers(self) -> list[tuple[str, str]]:
        """(tier, model) from the lowest tier to the top."""
        middle = [("local", self.local)] if self.local is not None else []
        return [("edge", self.edge), *middle, ("cloud", self.cloud)]


def load_items(sets: Sequence[str], limit: int | None) -> list[EvalItem]:
    """Items of each set, the first ``limit`` of each when given (a quick run)."""
    items: list[EvalItem] = []
    for name in sets:
        loaded = load_set(name)
        items.extend(loaded[:limit] if limit is not None else loaded)
    return items


@contextmanager
def open_backends(models: EvalModels) -> Iterator[list[tuple[str, LocalBackend]]]:
    """Every tier's model loaded once (the same model for two tiers is loaded once too)."""
    loaded: dict[str, LocalBackend] = {}
    try:
        for _, name in models.tiers():
            if name not in loaded:
                queue = ModelQueue(name, max_waiting=1, retry_after_s=1)
                loaded[name] = LocalBackend(name, locate_model(name), queue, models.n_ctx, models.n_threads)
        yield [(tier, loaded[name]) for tier, name in models.tiers()]
    finally:
        for backend in loaded.values():
            backend.close()


async def run_sets(
    items: Sequence[EvalItem],
    db: Path,
    models: EvalModels,
    config: EvalConfig,
    progress: Progress | None = None,
) -> Path:
    results = EvalResults(db)
    try:
        with open_backends(models) as tiers:
            await run_items(items, results, tiers, config, progress)
    finally:
        results.close()
    return db
