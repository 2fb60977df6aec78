"""The answer check of one hop: P(this tier's answer is acceptable) from its answer-level signals.

A logistic regression on standardised signals (``routing/answer_signals.py``), fitted offline
with scikit-learn on objective labels (``evaluation/cascade.py``) and served with numpy: one
standardisation and one dot product. ``threshold`` is the probability under which the hop
sends the request up; it is calibrated on the whole ladder to the end-to-end quality target.
The check is stored as JSON (no pickles) with a sha256 over its fields.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from edgesplit.errors import ConfigError
from edgesplit.routing.answer_signals import SIGNAL_GROUPS, AnswerView, signal_names, signal_vector

__all__ = ["FORMAT", "AnswerCheck", "fit_check", "load_check", "save_check"]

FORMAT = "edgesplit-answer-check/1"


@dataclass(frozen=True)
class AnswerCheck:
    tier_model: str  # the model whose answers it judges
    groups: tuple[str, ...]  # signal groups read, in order
    mean: np.ndarray
    scale: np.ndarray
    coef: np.ndarray
    intercept: float
    threshold: float = 0.5  # keep the answer when P(acceptable) >= threshold
    calibration: dict[str, Any] | None = None

    @property
    def needs_sample(self) -> bool:
        return "consistency" in self.groups

    @property
    def needs_upstream(self) -> bool:
        return "upstream" in self.groups

    def probability(self, view: AnswerView, run_examples: bool = True) -> float:
        """P(acceptable); ``run_examples=False`` only parses a code answer instead of running its examples."""
        return float(self.probabilities(signal_vector(view, self.groups, run_examples)[None, :])[0])

    def probabilities(self, x: np.ndarray) -> np.ndarray:
        """P(acceptable) for rows of signal vectors (``(n, n_signals)``)."""
        z = ((x - self.mean) / self.scale) @ self.coef + self.intercept
        return np.asarray(1.0 / (1.0 + np.exp(-np.clip(z, -50, 50))), dtype=np.float64)

    def keeps(self, view: AnswerView) -> bool:
        return self.probability(view) >= self.threshold


def fit_check(tier_model: str, groups: Sequence[str], x: np.ndarray, acceptable: Sequence[bool]) -> AnswerCheck:
    """Logistic regression on standardised signals, its strength chosen by cross-validation."""
    from sklearn.linear_model import LogisticRegressionCV

    y = np.asarray(acceptable, dtype=int)
    if len(set(y)) < 2:
        raise ValueError("every calibration answer has the same label: nothing to learn")
    mean = x.mean(axis=0)
    scale = np.where(x.std(axis=0) > 1e-12, x.std(axis=0), 1.0)
    folds = max(2, min(5, int(np.bincount(y).min())))
    model = LogisticRegressionCV(
        Cs=np.logspace(-3, 2, 11),
        l1_ratios=(0.0,),
        cv=folds,
        max_iter=5000,
        scoring="roc_auc",
        use_legacy_attributes=False,
    )
    model.fit((x - mean) / scale, y)
    return AnswerCheck(tier_model, tuple(groups), mean, scale, model.coef_[0].copy(), float(model.intercept_[0]))


def _fields(check: AnswerCheck) -> dict[str, Any]:
    data = asdict(check)
    for name in ("mean", "scale", "coef"):
        data[name] = [float(v) for v in data[name]]
    data["groups"] = list(check.groups)
    data["signal_names"] = signal_names(check.groups)
    return data


def save_check(check: AnswerCheck, path: Path) -> None:
    data = {"format": FORMAT, **_fields(check)}
    data["sha256"] = hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=1, sort_keys=True) + "\n", encoding="utf-8")


def load_check(path: Path) -> AnswerCheck:
    """A saved check; ConfigError names what is wrong with a bad file."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        digest = data.pop("sha256")
        if hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest() != digest:
            raise ConfigError(f"answer check {path}: checksum mismatch (edited or truncated)")
        if data.pop("format") != FORMAT:
            raise ConfigError(f"answer check {path}: not a {FORMAT} file")
        groups = tuple(data["groups"])
        if any(g not in SIGNAL_GROUPS for g in groups) or data.pop("signal_names") != signal_names(groups):
            raise ConfigError(f"answer check {path}: its signals are not this version's")
        arrays = {name: np.asarray(data[name], dtype=np.float64) for name in ("mean", "scale", "coef")}
        if not all(len(a) == len(signal_names(groups)) for a in arrays.values()):
            raise ConfigError(
                f"answer check {path}: {len(arrays['coef'])} weights for {len(signal_names(groups))} signals"
            )
        return AnswerCheck(
            data["tier_model"], groups, arrays["mean"], arrays["scale"], arrays["coef"], float(data["intercept"]),
            float(data["threshold"]), data.get("calibration"),
        )  # fmt: skip
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ConfigError(f"answer check {path} is unreadable: {exc}") from exc
