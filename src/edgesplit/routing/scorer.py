"""The learned pre-generation scorer: how likely the edge answer is good enough, before generating.

Features are what the edge has anyway or gets for almost nothing:

- ``hidden``: the edge model's final hidden state at the last prompt position, read while
  the prompt is evaluated (the prompt must be evaluated to answer on the edge anyway);
- ``embed``: the mean of the prompt's input token embeddings (routing.embedding), known as
  soon as the prompt is tokenized, before any model compute;
- ``cues``: prompt length and a few task cues found by regular expressions (code, maths,
  reasoning, writing), computed from the text in microseconds.

A logistic regression (scikit-learn, fit offline) maps them to P(edge answer is at least as
good as the cloud's). At request time the score is one standardisation and one dot product
in numpy: scikit-learn is needed to fit, never to serve.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np

__all__ = ["CUE_NAMES", "FEATURE_KINDS", "FeatureKind", "LinearScorer", "PromptView", "fit_scorer", "prompt_cues"]

FeatureKind = Literal["hidden+cues", "embed+cues", "cues"]
FEATURE_KINDS: tuple[FeatureKind, ...] = ("hidden+cues", "embed+cues", "cues")


@dataclass(frozen=True)
class PromptView:
    """What a scorer may look at for one prompt."""

    text: str  # the user's text (the last message)
    n_tokens: int  # the whole prompt as the edge model sees it
    hidden: np.ndarray | None = None  # last-position hidden state (hidden+cues)
    embedded: np.ndarray | None = None  # mean input token embedding (embed+cues)


_CUES: dict[str, re.Pattern[str]] = {
    "code": re.compile(
        r"```|\bdef |\bclass |\bimport |\bfunction\b|\bpython\b|\bjavascript\b|\bjava\b|\bsql\b|\bc\+\+|"
        r"\bcode\b|\bimplement|\balgorithm|\bregex|\bapi\b|\bscript\b|\bbug\b|\bcompile",
        re.IGNORECASE,
    ),
    "maths": re.compile(
        r"\bcalculate|\bsolve|\bequation|\bprove\b|\bprobability|\binteger|\bsum\b|\bhow many\b|"
        r"\bpercent|\bderivative|\bintegral|[0-9]+\s*[-+*/^=]\s*[0-9]",
        re.IGNORECASE,
    ),
    "reasoning": re.compile(r"\bwhy\b|\bexplain|\bstep by step|\breason|\bcompare|\banaly[sz]", re.IGNORECASE),
    "writing": re.compile(
        r"\bwrite\b|\bcompose|\bdraft\b|\bessay|\bpoem|\bstory|\bemail|\bblog|\bletter\b|\brewrite|\bsummar",
        re.IGNORECASE,
    ),
}
CUE_NAMES: tuple[str, ...] = ("log_tokens", "log_chars", "log_lines", "question", "digits", *_CUES)


def prompt_cues(text: str, n_tokens: int) -> np.ndarray:
    """The cue features of a prompt (see :data:`CUE_NAMES`)."""
    digits = sum(c.isdigit() for c in text) / max(1, len(text))
    values = [
        math.log1p(n_tokens),
        math.log1p(len(text)),
        math.log1p(text.count("\n")),
        float("?" in text),
        digits,
        *(float(bool(pattern.search(text))) for pattern in _CUES.values()),
    ]
    return np.asarray(values, dtype=np.float64)


def _features(kind: FeatureKind, view: PromptView) -> np.ndarray:
    cues = prompt_cues(view.text, view.n_tokens)
    if kind == "cues":
        return cues
    vector = view.hidden if kind == "hidden+cues" else view.embedded
    if vector is None:
        raise ValueError(f"a {kind} scorer needs the prompt's {kind.split('+')[0]} vector")
    return np.concatenate([np.asarray(vector, dtype=np.float64).ravel(), cues])


@dataclass(frozen=True)
class LinearScorer:
    """A fitted logistic scorer: ``sigmoid(((x - mean) / scale) @ coef + intercept)``."""

    kind: FeatureKind
    mean: np.ndarray
    scale: np.ndarray
    coef: np.ndarray
    intercept: float

    @property
    def vector_dim(self) -> int:
        """Width of the model vector the scorer reads (0 for cues only)."""
        return len(self.coef) - len(CUE_NAMES)

    @property
    def needs_hidden(self) -> bool:
        return self.kind == "hidden+cues"

    @property
    def needs_embedding(self) -> bool:
        return self.kind == "embed+cues"

    def score(self, view: PromptView) -> float:
        """P(the edge answer is good enough) for one prompt."""
        x = _features(self.kind, view)
        if x.shape != self.coef.shape:
            raise ValueError(f"expected {self.coef.shape[0]} features, got {x.shape[0]}")
        z = float(((x - self.mean) / self.scale) @ self.coef) + self.intercept
        return 1.0 / (1.0 + math.exp(-max(-60.0, min(60.0, z))))

    def score_many(self, views: Sequence[PromptView]) -> np.ndarray:
        return np.asarray([self.score(view) for view in views])


def fit_scorer(kind: FeatureKind, views: Sequence[PromptView], good: Sequence[bool], seed: int = 0) -> LinearScorer:
    """Fit on labelled prompts: L2 logistic regression, its strength chosen by 5-fold log-loss."""
    from sklearn.linear_model import LogisticRegression, LogisticRegressionCV
    from sklearn.preprocessing import StandardScaler

    x = np.stack([_features(kind, view) for view in views])
    y = np.asarray(good, dtype=int)
    if len(set(y.tolist())) < 2:
        raise ValueError("calibration items are all good or all bad: nothing to learn")
    scaler = StandardScaler().fit(x)
    scale = np.where(scaler.scale_ > 1e-12, scaler.scale_, 1.0)
    z = (x - scaler.mean_) / scale
    folds = int(min(5, np.bincount(y).min()))
    model: LogisticRegression | LogisticRegressionCV
    if folds >= 2:
        model = LogisticRegressionCV(
            Cs=np.logspace(-4, 2, 13),
            l1_ratios=(0.0,),
            cv=folds,
            scoring="neg_log_loss",
            max_iter=5000,
            use_legacy_attributes=False,
        )
    else:  # too few of one class to cross-validate
        model = LogisticRegression(C=0.1, max_iter=5000, random_state=seed)
    model.fit(z, y)
    return LinearScorer(kind, scaler.mean_.copy(), scale.copy(), model.coef_[0].copy(), float(model.intercept_[0]))
