"""The router artifact: a learned scorer, its threshold and rules, versioned and checksummed.

A JSON file (no pickles: loading it runs no code) written by ``edgesplit calibrate`` and read
by the edge at start and whenever the file changes. The ``sha256`` covers every other field,
so a truncated or edited file is refused; a refused file leaves the running router as it was.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from edgesplit.errors import ConfigError
from edgesplit.routing.scorer import CUE_NAMES, FeatureKind, LinearScorer

__all__ = [
    "FORMAT",
    "ArtifactError",
    "RouterArtifact",
    "RouterRules",
    "load_artifact",
    "packaged_file",
    "save_artifact",
]

log = logging.getLogger(__name__)
FORMAT = "edgesplit-router/1"


def packaged_file(folder: str, model: str) -> Path | None:
    """``data/<folder>/<model>.json`` shipped with edgesplit (a router, an answer check), if there is one."""
    path = Path(__file__).parent.parent / "data" / folder / f"{model}.json"
    return path if path.is_file() else None


class ArtifactError(ConfigError):
    """A router artifact that cannot be used (unreadable, invalid, wrong checksum or model)."""


class RouterRules(BaseModel):
    """Rules checked before the score; the first that matches decides."""

    model_config = ConfigDict(extra="forbid")

    edge_tags: list[str] = Field(default_factory=lambda: ["sensitive", "realtime"])  # always the edge
    cloud_tags: list[str] = Field(default_factory=lambda: ["quality"])  # always the cloud
    max_edge_prompt_tokens: int | None = Field(default=None, ge=1)  # longer prompts go to the cloud
    cloud_latency_ms: float | None = Field(default=None, ge=0)  # typical cloud answer time (from the eval)


class RouterArtifact(BaseModel):
    model_config = ConfigDict(extra="forbid")

    format: Literal["edgesplit-router/1"] = "edgesplit-router/1"
    version: str = Field(min_length=1, max_length=100)
    created: str
    edge_model: str  # the scorer reads this model's hidden states
    features: FeatureKind
    feature_names: list[str]
    mean: list[float]
    scale: list[float]
    coef: list[float]
    intercept: float
    threshold: float = Field(allow_inf_nan=False)  # escalate when the predicted quality change is below it
    rules: RouterRules = Field(default_factory=RouterRules)
    calibration: dict[str, Any] = Field(default_factory=dict)  # target and what it gave (calib, held-out)
    sha256: str = ""

    @model_validator(mode="after")
    def _consistent(self) -> RouterArtifact:
        n = len(self.coef)
        if not (len(self.mean) == len(self.scale) == len(self.feature_names) == n):
            raise ValueError("mean, scale, coef and feature_names must have the same length")
        if self.feature_names[n - len(CUE_NAMES) :] != list(CUE_NAMES):
            raise ValueError(f"the last features must be the cues {', '.join(CUE_NAMES)}")
        if self.features == "cues" and n != len(CUE_NAMES):
            raise ValueError("a 'cues' scorer has only the cue features")
        if any(s <= 0 for s in self.scale) or not all(np.isfinite([*self.mean, *self.coef, self.intercept])):
            raise ValueError("scale must be positive and every weight finite")
        return self

    def scorer(self) -> LinearScorer:
        return LinearScorer(
            self.features, np.asarray(self.mean), np.asarray(self.scale), np.asarray(self.coef), self.intercept
        )

    def rethreshold(self, threshold: float, calibration: dict[str, Any]) -> RouterArtifact:
        """The same scorer with another threshold (and what it gave), sealed again."""
        moved = self.model_copy(update={"threshold": threshold, "calibration": calibration})
        return moved.model_copy(update={"sha256": moved.checksum()})

    def checksum(self) -> str:
        payload = self.model_dump(mode="json", exclude={"sha256"})
        return hashlib.sha256(json.dumps(payload, sort_keys=True, separators=(",", ":")).encode()).hexdigest()

    @classmethod
    def from_scorer(
        cls,
        scorer: LinearScorer,
        edge_model: str,
        threshold: float,
        rules: RouterRules | None = None,
        calibration: dict[str, Any] | None = None,
        version: str | None = None,
    ) -> RouterArtifact:
        now = datetime.now(UTC)
        prefix = scorer.kind.split("+")[0]
        vector = [f"{prefix}_{i}" for i in range(scorer.vector_dim)]
        artifact = cls(
            version=version or now.strftime("%Y%m%dT%H%M%SZ"),
            created=now.isoformat(timespec="seconds"),
            edge_model=edge_model,
            features=scorer.kind,
            feature_names=[*vector, *CUE_NAMES],
            mean=scorer.mean.tolist(),
            scale=scorer.scale.tolist(),
            coef=scorer.coef.tolist(),
            intercept=scorer.intercept,
            threshold=threshold,
            rules=rules or RouterRules(),
            calibration=calibration or {},
        )
        return artifact.model_copy(update={"sha256": artifact.checksum()})


def save_artifact(artifact: RouterArtifact, path: Path) -> None:
    """Write atomically (temp file + rename), so a reader never sees half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    sealed = artifact.model_copy(update={"sha256": artifact.checksum()})
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(sealed.model_dump_json(indent=1))
    os.replace(tmp, path)


def load_artifact(path: Path, edge_model: str | None = None, hidden_dim: int | None = None) -> RouterArtifact:
    """Read and check an artifact; raises ArtifactError saying what is wrong."""
    try:
        artifact = RouterArtifact.model_validate_json(path.read_bytes())
    except OSError as exc:
        raise ArtifactError(f"router artifact {path}: cannot read it ({exc.strerror})") from exc
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "file"
        raise ArtifactError(f"router artifact {path}: {where}: {first['msg']}") from exc
    if artifact.sha256 != artifact.checksum():
        raise ArtifactError(f"router artifact {path}: checksum mismatch (file changed after it was written)")
    if edge_model is not None and artifact.edge_model != edge_model:
        raise ArtifactError(
            f"router artifact {path} was fit for {artifact.edge_model!r}, this edge runs {edge_model!r}"
        )
    if hidden_dim is not None and artifact.features != "cues":
        expected = hidden_dim + len(CUE_NAMES)
        if len(artifact.coef) != expected:
            raise ArtifactError(f"router artifact {path}: {len(artifact.coef)} features, this model needs {expected}")
    return artifact
