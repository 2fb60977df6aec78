"""Swapping a synced bundle into a running edge without dropping a request.

The new model is loaded beside the old one and must pass a smoke generation before any request
sees it; the router must load for that model; the policy and pre-processor settings must
validate. Only then do new requests switch over, all in one step on the event loop. Requests
already running keep the old model object until they finish, then it is closed. Bundle settings
apply on top of the node's own configuration (``base``), so a key a later bundle leaves out goes
back to the configured value.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from pydantic import ValidationError

from edgesplit.edge.bundles import BundleStore
from edgesplit.errors import BundleRejected, EdgesplitError
from edgesplit.sync.manifest import POLICY_KEYS, PREPROCESS_KEYS, overrides_from_toml

if TYPE_CHECKING:
    from collections.abc import Sequence

    from edgesplit.config import Settings
    from edgesplit.edge.dispatch import Dispatcher
    from edgesplit.generation import Backend
    from edgesplit.llama.backend import LocalBackend
    from edgesplit.metrics import NodeMetrics
    from edgesplit.preprocess.base import Preprocessor
    from edgesplit.privacy.redactor import Redactor
    from edgesplit.routing.learned import RouterHolder

__all__ = ["BundleFiles", "SwapTarget", "bundle_settings", "settings_at_start", "swap_bundle"]

log = logging.getLogger("edgesplit.edge.sync")

SMOKE_PROMPT = "Reply with one word: ready?"
RETIRE_GRACE_S = 1.0  # a request that read the old model just before the swap gets this long to start
_RETIRING: set[asyncio.Task[None]] = set()  # replaced models being closed (the reference keeps each task alive)


class SwapTarget(Protocol):
    """The references a bundle swap replaces on a node (the EdgeNode), and what it loads with."""

    settings: Settings
    metrics: NodeMetrics
    local: Backend
    speculative: Backend | None
    dispatch: Dispatcher
    redactor: Redactor | None
    preprocessors: Sequence[Preprocessor]
    router: RouterHolder


@dataclass(frozen=True)
class BundleFiles:
    """One version's files for this tier, on disk, plus the settings its TOML files set."""

    version: int
    model: Path | None
    router: Path | None
    overrides: dict[str, Any]

    @classmethod
    def load(cls, store: BundleStore, version: int, tier: str) -> BundleFiles:
        manifest = store.manifest(version)
        folder = store.version_dir(version)
        files = manifest.for_tier(tier)
        overrides: dict[str, Any] = {}
        try:
            if manifest.policy:
                overrides |= overrides_from_toml((folder / manifest.policy).read_text(), POLICY_KEYS, "policy")
            if manifest.preprocess:
                text = (folder / manifest.preprocess).read_text()
                overrides |= overrides_from_toml(text, PREPROCESS_KEYS, "preprocess")
        except ValueError as exc:
            raise BundleRejected(f"bundle {version}: {exc}", "invalid") from None
        model = folder / files.model if files.model else None
        router = folder / files.router if files.router else None
        return cls(version, model, router, overrides)


def bundle_settings(base: Settings, files: BundleFiles) -> Settings:
    """``base`` with the bundle's model, router and TOML settings; BundleRejected if they do not validate."""
    from edgesplit.config import Settings
    from edgesplit.errors import ConfigError

    updates = dict(files.overrides)
    if files.model is not None:
        updates |= {"model": str(files.model), "model_sha256": None}
    if files.router is not None:
        updates["router_artifact"] = files.router
    try:
        return Settings(**{**base.model_dump(), **updates})
    except (ValidationError, ConfigError) as exc:
        raise BundleRejected(f"bundle {files.version}: its settings do not validate: {exc}", "invalid") from None


def settings_at_start(base: Settings, store: BundleStore) -> tuple[Settings, int | None]:
    """The settings a starting node serves with: the current version if it is complete, else the
    previous one, else ``base`` (a version whose files were damaged on disk is skipped, loudly)."""
    state = store.state()
    for version in (state.current, state.previous):
        if version is None:
            continue
        if not store.is_complete(version):
            log.error("sync: bundle %d on disk is incomplete or damaged; not serving it", version)
            continue
        try:
            return bundle_settings(base, BundleFiles.load(store, version, base.tier)), version
        except BundleRejected as exc:
            log.error("%s; not serving it", exc)
    return base, None


def _prepare(settings: Settings, hidden_dim: int | None) -> tuple[Any, list[Any]]:
    """The router checked against its model, the redactor and pre-processors built (off the loop)."""
    from edgesplit.preprocess.base import load_preprocessors
    from edgesplit.privacy.redactor import Redactor
    from edgesplit.routing.artifact import load_artifact

    if settings.router_artifact is not None:
        load_artifact(settings.router_artifact, settings.served_model, hidden_dim)
    return Redactor.from_settings(settings), list(load_preprocessors(settings.preprocessors, settings))


async def swap_bundle(node: SwapTarget, settings: Settings) -> None:
    """Load what changed beside what runs, check it, then switch new requests over at once."""
    from edgesplit.routing.artifact import ArtifactError

    new_local = await _load_model(node, settings) if settings.model != node.settings.model else None
    local = new_local if new_local is not None else node.local
    hidden_dim = getattr(local, "hidden_dim", None)
    try:
        redactor, steps = await asyncio.to_thread(_prepare, settings, hidden_dim)
    except (ArtifactError, EdgesplitError) as exc:
        if new_local is not None:
            await asyncio.to_thread(new_local.close)
        raise BundleRejected(f"bundle does not load: {exc}", "invalid") from None
    if node.redactor is not None:
        redactor.vault = node.redactor.vault  # conversations in flight keep their placeholders
    old_local = node.local
    _switch(node, settings, local, redactor, steps, hidden_dim)
    if new_local is not None:
        task = asyncio.create_task(_retire(old_local), name="edgesplit-retire-model")
        _RETIRING.add(task)
        task.add_done_callback(_RETIRING.discard)


async def _load_model(node: SwapTarget, settings: Settings) -> LocalBackend:
    from edgesplit.edge.streams import drain
    from edgesplit.generation import GenerationParams, Prompt
    from edgesplit.llama.backend import LocalBackend

    try:
        backend = await asyncio.to_thread(LocalBackend.for_node, settings, node.metrics)
    except Exception as exc:
        raise BundleRejected(f"the bundle's model does not load: {type(exc).__name__}: {exc}", "smoke") from None
    try:
        prompt = Prompt(messages=(("user", SMOKE_PROMPT),))
        tokens, _ = await drain(backend.stream(prompt, GenerationParams(max_tokens=4, temperature=0.0)))
        if not tokens:
            raise ValueError("no tokens")
    except Exception as exc:
        await asyncio.to_thread(backend.close)
        raise BundleRejected(f"the bundle's model failed its smoke generation: {exc}", "smoke") from None
    return backend


def _switch(node: SwapTarget, settings: Settings, local: Any, redactor: Any, steps: list[Any], hidden: Any) -> None:
    """Every reference new requests read, replaced with no await in between."""
    dispatch = node.dispatch
    if local is not node.local:
        speculative = node.speculative
        if speculative is not None and getattr(speculative, "drafter", None) is node.local:
            speculative.drafter = local  # type: ignore[attr-defined]
        node.local = dispatch.local = local
        dispatch.reset_embeddings()
    node.settings = dispatch.settings = settings
    node.redactor = redactor
    node.preprocessors = [step for step in steps if step.stage == "before-routing"]
    dispatch.escalation = tuple(step for step in steps if step.stage == "escalation")
    node.router.switch(settings.router_artifact, settings.served_model, hidden)


async def _retire(backend: Any) -> None:
    """Close the replaced model once the requests that hold it are done."""
    await asyncio.sleep(RETIRE_GRACE_S)
    queue = getattr(backend, "queue", None)
    while queue is not None and not queue.idle:
        await asyncio.sleep(0.2)
    close = getattr(backend, "close", None)
    if close is not None:
        await asyncio.to_thread(close)
    log.info("sync: the replaced model is closed")
