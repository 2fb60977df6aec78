"""Which node roles read each setting: for the configuration reference (``docs/reference/config.md``).

A key is matched by its own name first, then by the longest prefix listed; every key of
:class:`~edgesplit.config.Settings` must match one (``tests/test_config.py`` checks).
"""

from __future__ import annotations

__all__ = ["ALL_ROLES", "roles_of"]

ALL_ROLES = ("edge", "local", "cloud")
_EDGES = ("edge", "local")  # the tiers with an upstream: a device, and the local server toward the cloud
_CLOUD = ("cloud",)

_BY_NAME: dict[str, tuple[str, ...]] = {
    "engine": _CLOUD,
    "split_model": ALL_ROLES,  # the edge runs its prefix, the cloud its suffix
    "split_session_ttl_s": _CLOUD,
    "split_max_cache_bytes": _CLOUD,
    "split_max_frame_bytes": _CLOUD,
    "speculative_verify": _CLOUD,
    "speculative_session_ttl_s": _CLOUD,
    "speculative_max_sessions": _CLOUD,
    "sync_keys_dir": _CLOUD,
    "sync_timestamp_expiry_s": _CLOUD,
    "sync_snapshot_expiry_s": _CLOUD,
    "sync_refresh_check_s": _CLOUD,
    "sync_expiry_warn_days": ALL_ROLES,
    "feedback": ALL_ROLES,  # the edge notes hard cases, the cloud stores and labels them
}
_BY_PREFIX: dict[str, tuple[str, ...]] = {
    "ray_": _CLOUD,
    "upstream": _EDGES,
    "link_": _EDGES,
    "outbox_": _EDGES,
    "preprocessors": _EDGES,
    "compress_": _EDGES,
    "privacy_": _EDGES,
    "vault_": _EDGES,
    "split_": _EDGES,
    "speculative_": _EDGES,
    "cascade_": _EDGES,
    "answer_check": _EDGES,
    "router_": _EDGES,
    "sync_": _EDGES,
    "feedback_": _EDGES,
    "": ALL_ROLES,  # serving, auth, TLS, limits, traces: every node
}


def roles_of(key: str) -> tuple[str, ...]:
    """The roles whose nodes read ``key``."""
    if key in _BY_NAME:
        return _BY_NAME[key]
    prefix = max((p for p in _BY_PREFIX if key.startswith(p)), key=len)
    return _BY_PREFIX[prefix]
