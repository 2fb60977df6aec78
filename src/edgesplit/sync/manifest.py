"""The bundle manifest: which files make one consistent set of model, routers and policy.

A bundle is published as TUF targets. ``bundle.json`` is one of them: it names, per tier, the
edge model file and the router fitted for it, plus the privacy policy and the pre-processor
config every tier applies. Its ``version`` is the targets metadata version it was signed in, so
it only ever goes up (TUF refuses older metadata).
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

__all__ = [
    "BUNDLE_TARGET",
    "POLICY_KEYS",
    "PREPROCESS_KEYS",
    "BundleManifest",
    "SyncTier",
    "TierFiles",
    "overrides_from_toml",
]

BUNDLE_TARGET = "bundle.json"
SyncTier = Literal["device", "local"]
# settings a bundle's policy.toml / preprocess.toml may set; everything else stays the node's own
POLICY_KEYS = ("privacy_",)
PREPROCESS_KEYS = ("preprocessors", "compress_")


class TierFiles(BaseModel):
    """What one tier runs: its model file and the router fitted for that model (target paths)."""

    model_config = ConfigDict(extra="forbid")

    model: str | None = None  # target path of the GGUF file, e.g. "models/smollm2-135m-instruct.gguf"
    model_name: str | None = None  # the name the model is served under (the router names it too)
    router: str | None = None  # target path of the router artifact


class BundleManifest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    version: int = Field(ge=1)
    created_at: str
    tiers: dict[SyncTier, TierFiles] = {}
    policy: str | None = None  # target path of a TOML file with privacy_* settings
    preprocess: str | None = None  # target path of a TOML file with preprocessors / compress_* settings

    def targets(self) -> list[str]:
        """Every target path the bundle needs besides bundle.json itself."""
        paths = [p for files in self.tiers.values() for p in (files.model, files.router) if p]
        return sorted({*paths, *(p for p in (self.policy, self.preprocess) if p)})

    def for_tier(self, tier: str) -> TierFiles:
        return self.tiers.get(tier, TierFiles())  # type: ignore[call-overload, no-any-return]


def overrides_from_toml(text: str, allowed: tuple[str, ...], what: str) -> dict[str, Any]:
    """The settings a policy or pre-processor file sets; ValueError for a key it may not set."""
    import tomllib

    data = tomllib.loads(text)
    if bad := sorted(key for key in data if not key.startswith(allowed)):
        raise ValueError(f"{what}: keys {', '.join(bad)} are not {what} settings (allowed: {', '.join(allowed)}*)")
    return data
