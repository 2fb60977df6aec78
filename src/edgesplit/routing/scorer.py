"""The learned pre-generation scorer: how much quality a request loses on the edge, before generating.

Features are what the edge has anyway or gets for almost nothing:

- ``hidden``: the edge model's final hidden state at the last prompt position, read while
  the prompt is evaluated (the prompt must be evaluated to answer on the edge anyway);
- ``embed``: the mean of the prompt's input token embeddings (routing.embedding), known as
  soon as the prompt is tokenized, before any model compute;
- ``cues``: prompt length and a few task cues found by regular expressions (code, maths,
  reasoning, writing), computed from the text in microseconds.

A ridge regression (scikit-learn, fit offline) maps them to the expected quality change if
the edge answers instead of the cloud (edge quality - cloud quality, 0 = as good, -1 = a
passing answer lost). Routing keeps the requests with the smallest expected loss on the edge,
so that is what is learned: a classifier of "edge at least as good" (tried first) weighs a
lost HumanEval solution the same as a slightly weaker chat answer, and ranked no better than
random on the eval mix. At request time the score is one standardisation and one dot
product in numpy: scikit-learn is needed to fit, never to serve.
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
    """A fitted linear scorer: ``((x - mean) / scale) @ coef + intercept``, the predicted quality change."""

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
        """Expected quality change (edge - cloud) if the edge answers this prompt."""
        x = _features(self.kind, view)
        if x.shape != self.coef.shape:
            raise ValueError(f"expected {self.coef.shape[0]} features, got {x.shape[0]}")
        return float(((x - self.mean) / self.scale) @ self.coef) + self.intercept

    def score_many(self, views: Sequence[PromptView]) -> np.ndarray:
        return np.asarray([self.score(view) for view in views])


def fit_scorer(kind: FeatureKind, views: Sequence[PromptView], gain: Sequence[float]) -> LinearScorer:
    """Fit on labelled prompts (``gain`` = edge quality - cloud quality): ridge regression on
    standardised features, its strength chosen by leave-one-out error."""
    from sklearn.linear_model import RidgeCV
    from sklearn.preprocessing import StandardScaler

    if len(views) < 3:
        raise ValueError(f"{len(views)} calibration items: too few to fit")
    x = np.stack([_features(kind, view) for view in views])
    y = np.asarray(gain, dtype=np.float64)
    if np.ptp(y) == 0:
        raise ValueError("every calibration item loses the same on the edge: nothing to learn")
    scaler = StandardScaler().fit(x)
    scale = np.where(scaler.scale_ > 1e-12, scaler.scale_, 1.0)
    model = RidgeCV(alphas=np.logspace(-1, 5, 19)).fit((x - scaler.mean_) / scale, y)
    return LinearScorer(
        kind, scaler.mean_.copy(), scale.copy(), np.asarray(model.coef_).copy(), float(model.intercept_)
    )
