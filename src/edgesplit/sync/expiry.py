"""Metadata expiry as both sides report it: seconds left per role, and the warnings due.

The cloud reads its repository's newest metadata, an edge the metadata its TUF client last
verified. Both export ``edgesplit_sync_metadata_expiry_seconds{role}``, show the soonest
expiry on the dashboard and in ``edgesplit sync status``, and log a warning once a role has
less than ``sync_expiry_warn_days`` left.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from pathlib import Path

from edgesplit.sync.clock import now

__all__ = ["expiry_warnings", "seconds_left", "trusted_expiries"]

_ROLES = ("root", "targets", "snapshot", "timestamp")


def seconds_left(expiries: dict[str, datetime]) -> dict[str, float]:
    """role -> seconds until its metadata expires (negative once expired)."""
    moment = now()
    return {role: round((expires - moment).total_seconds(), 1) for role, expires in expiries.items()}


def expiry_warnings(expiries: dict[str, datetime], within: timedelta, roles: tuple[str, ...] = _ROLES) -> list[str]:
    """One sentence per role in ``roles`` that expires within ``within`` (or has expired)."""
    warnings = []
    for role, left_s in seconds_left(expiries).items():
        if role in roles and left_s < within.total_seconds():
            when = "has expired" if left_s <= 0 else f"expires in {left_s / 86400:.1f} days"
            warnings.append(f"{role} metadata {when} ({expiries[role].isoformat(timespec='seconds')})")
    return warnings


def trusted_expiries(metadata_dir: Path) -> dict[str, datetime]:
    """When each role's metadata the edge's TUF client trusts expires (it wrote and verified these)."""
    found: dict[str, datetime] = {}
    for role in _ROLES:
        try:
            signed = json.loads((metadata_dir / f"{role}.json").read_bytes())["signed"]
            found[role] = datetime.fromisoformat(signed["expires"].replace("Z", "+00:00"))
        except (OSError, ValueError, KeyError, TypeError):
            continue
    return found
