"""The router artifact: round trip, refusals, and the holder that keeps a good router."""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path

import numpy as np
import pytest

from edgesplit.evaluation.replay import fit_on
from edgesplit.routing.artifact import ArtifactError, RouterArtifact, RouterRules, load_artifact, save_artifact
from edgesplit.routing.learned import LearnedRouter, RequestHints, RouterHolder
from edgesplit.routing.scorer import CUE_NAMES, LinearScorer, PromptView, prompt_cues
from eval_data import HIDDEN_DIM, synthetic_records

MODEL = "edge-model"


def _artifact(threshold: float = -0.5, version: str = "v1") -> RouterArtifact:
    scorer = fit_on([r for r in synthetic_records(90) if r.split == "calib"], "hidden+cues")
    return RouterArtifact.from_scorer(scorer, MODEL, threshold, RouterRules(cloud_latency_ms=900.0), version=version)


def test_round_trip_scores_identically(tmp_path: Path) -> None:
    artifact = _artifact()
    path = tmp_path / "router.json"
    save_artifact(artifact, path)
    loaded = load_artifact(path, MODEL, HIDDEN_DIM)
    assert loaded.version == "v1" and loaded.sha256 == artifact.checksum()
    record = synthetic_records(3)[0]
    view = PromptView(record.prompt, record.edge.prompt_tokens, hidden=record.edge.hidden)
    assert loaded.scorer().score(view) == pytest.approx(artifact.scorer().score(view), rel=1e-12)
    assert len(loaded.feature_names) == HIDDEN_DIM + len(CUE_NAMES)


def test_scorer_is_the_sklearn_linear_model() -> None:
    from sklearn.linear_model import Ridge

    rng = np.random.default_rng(0)
    x = rng.normal(size=(40, len(CUE_NAMES)))
    model = Ridge().fit(x, x[:, 0] - x[:, 1])
    scorer = LinearScorer(
        "cues", np.zeros(len(CUE_NAMES)), np.ones(len(CUE_NAMES)), model.coef_, float(model.intercept_)
    )
    text = "Write a python function?"
    features = prompt_cues(text, 12)
    expected = model.predict(features[None, :])[0]
    assert scorer.score(PromptView(text, 12)) == pytest.approx(expected)


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda d: d.update(threshold=0.7), "checksum mismatch"),
        (lambda d: d.update(coef=d["coef"][:-1]), "same length"),
        (lambda d: d.update(format="other/9"), "format"),
        (lambda d: d.update(edge_model="another-model"), "fit for 'another-model'"),
        (lambda d: d["scale"].__setitem__(0, 0.0), "scale must be positive"),
    ],
)
def test_bad_artifacts_are_refused_with_the_reason(tmp_path: Path, edit: object, message: str) -> None:
    path = tmp_path / "router.json"
    save_artifact(_artifact(), path)
    data = json.loads(path.read_text())
    edit(data)  # type: ignore[operator]
    if message == "fit for 'another-model'":  # a consistent file for a different edge model
        data["sha256"] = RouterArtifact.model_validate({**data, "sha256": ""}).checksum()
    path.write_text(json.dumps(data))
    with pytest.raises(ArtifactError, match=message):
        load_artifact(path, MODEL, HIDDEN_DIM)


def test_wrong_hidden_width_and_unreadable_file(tmp_path: Path) -> None:
    path = tmp_path / "router.json"
    save_artifact(_artifact(), path)
    with pytest.raises(ArtifactError, match="this model needs"):
        load_artifact(path, MODEL, HIDDEN_DIM + 1)
    (tmp_path / "junk.json").write_text("{not json")
    with pytest.raises(ArtifactError, match=r"junk\.json"):
        load_artifact(tmp_path / "junk.json")


def test_holder_missing_file_means_cascade_with_a_warning(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="edgesplit.routing.learned"):
        holder = RouterHolder(tmp_path / "absent.json", MODEL, HIDDEN_DIM)
    assert holder.current is None
    assert "confidence cascade" in caplog.text


def test_holder_reloads_on_change_and_keeps_the_old_router_on_a_bad_file(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "router.json"
    save_artifact(_artifact(version="v1"), path)
    holder = RouterHolder(path, MODEL, HIDDEN_DIM)
    assert holder.current is not None and holder.current.version == "v1"
    assert not holder.reload_if_changed()  # unchanged file: nothing to do
    save_artifact(_artifact(threshold=0.9, version="v2"), path)
    os.utime(path, ns=(1, 1))  # a new mtime even on a coarse clock
    assert holder.reload_if_changed()
    assert holder.current.version == "v2" and holder.current.threshold == 0.9
    path.write_text('{"format": "edgesplit-router/1", "truncated')
    with caplog.at_level(logging.ERROR, logger="edgesplit.routing.learned"):
        assert not holder.reload_if_changed()
    assert holder.current.version == "v2"
    assert "keeping router v2" in caplog.text and holder.last_error is not None


def test_rules_decide_before_the_score() -> None:
    artifact = _artifact().model_copy(update={"rules": RouterRules(max_edge_prompt_tokens=100, cloud_latency_ms=900)})
    router = LearnedRouter(artifact)
    assert router.by_rules(RequestHints(("sensitive",)), 10).route == "edge"  # type: ignore[union-attr]
    assert router.by_rules(RequestHints(("quality",)), 10).route == "cloud"  # type: ignore[union-attr]
    fast = router.by_rules(RequestHints(latency_budget_ms=300), 10)
    assert fast is not None and fast.route == "edge" and "latency budget" in fast.reason
    long = router.by_rules(RequestHints(), 500)
    assert long is not None and long.route == "cloud" and "500 tokens" in long.reason
    assert router.by_rules(RequestHints(latency_budget_ms=5000), 10) is None
    coding, chat = synthetic_records(2)
    assert router.by_score(PromptView(coding.prompt, 20, hidden=coding.edge.hidden)).route == "cloud"
    kept = router.by_score(PromptView(chat.prompt, 20, hidden=chat.edge.hidden))
    assert kept.route == "edge" and kept.rule == "learned-kept" and kept.score is not None
