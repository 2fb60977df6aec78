"""The eval harness on the real edge model (standing in for both tiers and the judge), small data."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import numpy as np
import pytest

from conftest import EDGE_MODEL
from edgesplit.evaluation.datasets import EvalItem, load_set
from edgesplit.evaluation.harness import EvalConfig, run_items
from edgesplit.evaluation.results import EvalResults
from edgesplit.evaluation.runner import EvalModels, open_backends, run_sets
from edgesplit.generation import Finish, GenerationParams, Prompt, PromptState, TokenEvent

SMALL = EvalModels(edge=EDGE_MODEL, local=EDGE_MODEL, cloud=EDGE_MODEL, n_ctx=2048)  # one model, loaded once
CONFIG = EvalConfig(max_tokens=24, code_max_tokens=48)


def _items() -> list[EvalItem]:
    mtbench = load_set("mtbench")
    return [
        *load_set("humaneval")[:2],
        next(i for i in mtbench if i.label_kind == "judge-reference"),
        next(i for i in mtbench if i.category == "writing"),
        load_set("sharegpt")[0],
    ]


@pytest.fixture(scope="module")
def filled(tmp_path_factory: pytest.TempPathFactory) -> Path:
    db = tmp_path_factory.mktemp("eval") / "results.db"
    asyncio.run(run_sets(_items(), db, SMALL, CONFIG))
    return db


def test_every_item_gets_an_answer_and_a_label_at_every_tier(filled: Path) -> None:
    results = EvalResults(filled)
    records = {r.key: r for r in results.records()}
    assert set(records) == {i.key for i in _items()}
    methods = {r.key: (r.label_kind, r.edge_quality, r.cloud_quality) for r in records.values()}
    for record in records.values():
        assert 0.0 <= record.edge_quality <= 1.0 and 0.0 <= record.cloud_quality <= 1.0
        assert record.edge.hidden is not None and record.edge.hidden.shape == (576,)
        assert record.cloud.hidden is None and record.edge.mean_logprob is not None
        # the same greedy model on both tiers gives the same answer
        assert record.edge.text == record.cloud.text
    assert methods["humaneval/0"][0] == "tests"
    for key in records:
        local = results.answer(key, "local")
        assert local is not None and local.text == records[key].cloud.text and local.hidden is not None
        assert results.label(key, "local") is not None
    sharegpt = next(r for r in records.values() if r.set == "sharegpt")
    labels = [results.label(sharegpt.key, tier) for tier in ("edge", "local", "cloud")]
    assert all(label is not None and label.method == "judge" for label in labels)
    # no label favours a tier by construction: the same answer gets the same quality at every tier
    assert sharegpt.edge_quality == sharegpt.cloud_quality
    rated = results.label(next(k for k in records if k.startswith("mtbench")), "edge")
    assert rated is not None and rated.method in ("judge", "judge-reference") and rated.detail.startswith("rating")
    results.close()


class _Counting:
    """Wraps a backend's stream to count generations (a resumed run must start none)."""

    def __init__(self, backend: object) -> None:
        self.backend = backend
        self.name = backend.name  # type: ignore[attr-defined]
        self.calls = 0

    def stream(self, prompt: Prompt, params: GenerationParams, gate: object = None) -> AsyncIterator[object]:
        self.calls += 1
        return self.backend.stream(prompt, params, gate)  # type: ignore[attr-defined,no-any-return]


def test_a_rerun_resumes_without_generating_again(filled: Path) -> None:
    results = EvalResults(filled)
    with open_backends(SMALL) as tiers:
        counted = [(tier, _Counting(backend)) for tier, backend in tiers]
        asyncio.run(run_items(_items(), results, counted, CONFIG))  # type: ignore[arg-type]
    assert [c.calls for _, c in counted] == [0, 0, 0]
    assert len(results.records()) == len(_items())
    assert results.timings()["generate edge"] > 0
    results.close()


def test_gate_reads_the_hidden_state_without_changing_the_answer() -> None:
    async def answer(backend: object, gate: object) -> tuple[str, int]:
        text, count = [], 0
        params = GenerationParams(max_tokens=16, temperature=0.0)
        async for event in backend.stream(Prompt(messages=(("user", "Name three colours."),)), params, gate):  # type: ignore[attr-defined]
            if isinstance(event, TokenEvent):
                text.append(event.text)
            elif isinstance(event, Finish):
                count = event.completion_tokens
        return "".join(text), count

    states: list[PromptState] = []
    with open_backends(SMALL) as tiers:
        edge = tiers[0][1]
        plain = asyncio.run(answer(edge, None))
        gated = asyncio.run(answer(edge, lambda s: states.append(s) or True))
        stopped = asyncio.run(answer(edge, lambda s: False))
        asyncio.run(answer(edge, lambda s: states.append(s) or True))
    assert gated == plain and plain[1] == 16
    assert stopped == ("", 0)  # the gate said no: no token leaves the edge
    assert len(states) == 2 and states[0].hidden.shape == (576,)
    assert np.array_equal(states[0].hidden, states[1].hidden)
    assert states[0].tokens == states[1].tokens and len(states[0].tokens) > 5


def test_labels_that_favoured_a_tier_are_dropped_from_old_stores(tmp_path: Path) -> None:
    from edgesplit.evaluation.results import Label

    results = EvalResults(tmp_path / "old.db")
    item = load_set("sharegpt")[0]
    results.add_items([item])
    results.put_label(item.key, "edge", Label(0.6, "judge-pairwise", "P(edge >= cloud)", 0.0))
    results.put_label(item.key, "cloud", Label(1.0, "reference", "the reference", 0.0))
    results.put_label(item.key, "local", Label(0.7, "judge", "rating 7.00", 0.0))
    results.close()
    reopened = EvalResults(tmp_path / "old.db")
    assert reopened.label(item.key, "edge") is None and reopened.label(item.key, "cloud") is None
    assert reopened.label(item.key, "local") is not None  # an unbiased label stays
    reopened.close()


def test_the_ladder_summary_from_labels_alone(tmp_path: Path) -> None:
    from edgesplit.evaluation.ladder import ladder_items, ladder_summary, summarise
    from edgesplit.evaluation.results import Label

    results = EvalResults(tmp_path / "ladder.db")
    items = load_set("humaneval")[:4]
    results.add_items(items)
    # (device, local, cloud) pass/fail per item: device enough, local enough, cloud needed, all fail
    outcomes = [(1, 1, 1), (0, 1, 1), (0, 0, 1), (0, 0, 0)]
    for item, qualities in zip(items, outcomes, strict=True):
        for tier, quality in zip(("edge", "local", "cloud"), qualities, strict=True):
            results.put_label(item.key, tier, Label(float(quality), "tests", "", 0.0))
    ladder = ladder_items(results)
    results.close()
    assert [i.oracle_tier() for i in ladder] == ["edge", "local", "cloud", "edge"]  # ties go down
    summary = summarise(ladder)
    assert summary["n"] == 4
    assert sum(s["n"] for g, s in ladder_summary(ladder).items() if not g.endswith("/mix")) == 4
    assert summary["oracle_below_cloud"] == 0.75
    assert summary["alone"] == {"device": 1 / 3, "local": 2 / 3, "cloud": 1.0}
    assert summary["oracle_per_hop"] == {"device vs cloud": 0.5, "local vs cloud": 0.75}
