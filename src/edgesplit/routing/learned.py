"""Routing v2: rules, then the learned scorer against the calibrated threshold.

Rules decide first and need no model work: a request tag the artifact sends to one tier, a
prompt longer than the edge should take, a latency budget the cloud cannot meet. Otherwise
the scorer predicts the quality change if the edge answers (edge - cloud); below the
threshold the request goes to the cloud. :class:`RouterHolder` keeps the artifact the edge
serves with, reloading it when the file changes and keeping the previous router when a new
file is bad.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from edgesplit.routing.artifact import ArtifactError, RouterArtifact, load_artifact, packaged_file
from edgesplit.routing.scorer import PromptView

__all__ = ["LearnedDecision", "LearnedRouter", "RequestHints", "RouterHolder", "packaged_router", "router_path"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RequestHints:
    """What a request tells the router about itself (``edgesplit.tags``, ``edgesplit.latency_budget_ms``)."""

    tags: tuple[str, ...] = ()
    latency_budget_ms: float | None = None


@dataclass(frozen=True)
class LearnedDecision:
    route: Literal["edge", "cloud"]
    rule: Literal["rule", "learned-kept", "learned-escalated"]
    reason: str
    score: float | None = None


class LearnedRouter:
    def __init__(self, artifact: RouterArtifact) -> None:
        self.artifact = artifact
        self.scorer = artifact.scorer()
        self.threshold = artifact.threshold
        self.version = artifact.version

    @property
    def needs_hidden(self) -> bool:
        return self.scorer.needs_hidden

    @property
    def needs_embedding(self) -> bool:
        return self.scorer.needs_embedding

    def by_rules(self, hints: RequestHints, prompt_tokens: int) -> LearnedDecision | None:
        """The decision of the first matching rule, or None to let the score decide."""
        rules = self.artifact.rules
        for tag in hints.tags:
            if tag in rules.edge_tags:
                return LearnedDecision("edge", "rule", f"tag {tag!r} stays on the edge")
            if tag in rules.cloud_tags:
                return LearnedDecision("cloud", "rule", f"tag {tag!r} goes to the cloud")
        budget, cloud_ms = hints.latency_budget_ms, rules.cloud_latency_ms
        if budget is not None and cloud_ms is not None and budget < cloud_ms:
            return LearnedDecision("edge", "rule", f"latency budget {budget:g} ms < typical cloud {cloud_ms:.0f} ms")
        limit = rules.max_edge_prompt_tokens
        if limit is not None and prompt_tokens > limit:
            return LearnedDecision("cloud", "rule", f"prompt {prompt_tokens} tokens > edge limit {limit}")
        return None

    def by_score(self, view: PromptView) -> LearnedDecision:
        score = self.scorer.score(view)
        where = f"router {self.version}: expected quality change on the edge {score:+.3f}"
        if score < self.threshold:
            return LearnedDecision("cloud", "learned-escalated", f"{where} < {self.threshold:.3f}", score)
        return LearnedDecision("edge", "learned-kept", f"{where} >= {self.threshold:.3f}", score)


def packaged_router(model: str) -> Path | None:
    """The router artifact shipped with edgesplit for ``model`` (fit by ``edgesplit calibrate``), if any."""
    return packaged_file("routers", model)


def router_path(configured: Path | None, model: str, use_packaged: bool) -> Path | None:
    """The artifact a node routes with: the configured one, else the packaged one for its model."""
    if configured is not None or not use_packaged:
        return configured
    path = packaged_router(model)
    if path is None:
        log.warning("no router is packaged for %s and none is configured: routing with the confidence cascade", model)
    return path


class RouterHolder:
    """The router the edge serves with: loaded at start, reloaded when the artifact file changes."""

    def __init__(self, path: Path | None, edge_model: str, hidden_dim: int | None) -> None:
        self.path = path
        self.edge_model = edge_model
        self.hidden_dim = hidden_dim
        self.current: LearnedRouter | None = None
        self._seen: tuple[int, int] | None = None
        self.last_error: str | None = None
        if path is None:
            return
        if not path.exists():
            log.warning("router artifact %s does not exist: routing with the confidence cascade", path)
        self.reload_if_changed()

    def reload_if_changed(self) -> bool:
        """Load the artifact if its file changed since the last look; True when a new router is in use."""
        if self.path is None:
            return False
        try:
            stat = self.path.stat()
        except FileNotFoundError:
            if self._seen is not None:
                log.warning("router artifact %s disappeared: keeping router %s", self.path, self._version())
                self._seen = None
            return False
        stamp = (stat.st_mtime_ns, stat.st_size)
        if stamp == self._seen:
            return False
        self._seen = stamp
        try:
            artifact = load_artifact(self.path, self.edge_model, self.hidden_dim)
        except ArtifactError as exc:
            self.last_error = str(exc)
            log.error("%s; keeping router %s", exc, self._version())
            return False
        self.current = LearnedRouter(artifact)
        self.last_error = None
        log.info("router %s loaded from %s (threshold %.3f)", artifact.version, self.path, artifact.threshold)
        return True

    def switch(self, path: Path | None, edge_model: str, hidden_dim: int | None) -> None:
        """Route with the artifact at ``path`` for ``edge_model`` from now on (a synced bundle)."""
        if (path, edge_model, hidden_dim) == (self.path, self.edge_model, self.hidden_dim):
            return
        self.path, self.edge_model, self.hidden_dim = path, edge_model, hidden_dim
        self._seen = None
        if path is None:
            self.current = None
            return
        self.reload_if_changed()

    def _version(self) -> str:
        return self.current.version if self.current is not None else "none (confidence cascade)"

    def describe(self) -> str:
        """The router in use, as the dashboard shows it."""
        return self._version()

    async def watch(self, interval_s: float) -> None:
        """Poll the file every ``interval_s`` seconds (cancel the task to stop)."""
        while True:
            await asyncio.sleep(interval_s)
            await asyncio.to_thread(self.reload_if_changed)
