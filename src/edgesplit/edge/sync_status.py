"""SyncStatus: what an edge knows about its sync, kept across restarts.

``edgesplit sync status``, ``GET /v1/sync/status``, the dashboard and ``/metrics`` read it.
Besides the versions it holds the evidence an operator needs to see a freeze: when metadata was
last *verified fresh* (a whole TUF refresh passed), how long ago that is against the alarm
threshold, the last error (kept until a pull succeeds), refusals by reason, and the bytes moved.
All of it but the versions (which ``state.json`` owns) is written to ``status.json`` after each
pull, so counters and the last error survive a restart.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from edgesplit.edge.fetcher import FetchStats
from edgesplit.sync.files import atomic_write

__all__ = ["Download", "SyncBytes", "SyncStatus", "SyncStatusBody", "SyncStatusNow"]

log = logging.getLogger("edgesplit.edge.sync")


class SyncBytes(BaseModel):
    wire: int  # bytes downloaded
    reused: int  # bytes of targets already on disk, not downloaded again
    resumes: int  # downloads continued with an HTTP Range request


class SyncStatusBody(BaseModel):
    """``POST /v1/sync/pull`` and ``/v1/sync/rollback``: :class:`SyncStatus` after the call."""

    current: int | None  # bundle version serving
    previous: int | None  # the version a rollback returns to
    pending: int | None  # a version being downloaded or swapped in
    last_check: float | None  # unix time of the last pull attempt
    last_fresh: float | None  # unix time metadata was last verified fresh
    stale_s: float  # seconds since then (since the node started, if never)
    stale: bool  # stale_s is past sync_stale_alarm_s
    last_error: str | None  # kept until a pull succeeds
    last_reason: str | None
    rejected: dict[str, int]  # refused pulls by reason, since the store was made
    bytes: SyncBytes
    expires_in_s: dict[str, float]  # seconds until each trusted role's metadata expires
    warnings: list[str]  # roles expiring within sync_expiry_warn_days


class Download(BaseModel):
    target: str
    length: int
    bytes: int


class SyncStatusNow(SyncStatusBody):
    """``GET /v1/sync/status``: the status and the download in progress, if any."""

    downloading: Download | None


@dataclass
class SyncStatus:
    current: int | None = None
    previous: int | None = None
    pending: int | None = None
    last_check: float | None = None
    last_fresh: float | None = None
    last_error: str | None = None
    last_reason: str | None = None
    rejected: dict[str, int] = field(default_factory=dict)  # reason -> count
    fetch: FetchStats = field(default_factory=FetchStats)
    alarm_s: float = 86400.0
    started: float = field(default_factory=time.time)

    def stale_s(self) -> float:
        return round(time.time() - (self.last_fresh or self.started), 1)

    def stale(self) -> bool:
        return self.stale_s() > self.alarm_s

    def as_dict(self) -> dict[str, Any]:
        return {
            "current": self.current,
            "previous": self.previous,
            "pending": self.pending,
            "last_check": self.last_check,
            "last_fresh": self.last_fresh,
            "stale_s": self.stale_s(),
            "stale": self.stale(),
            "last_error": self.last_error,
            "last_reason": self.last_reason,
            "rejected": dict(self.rejected),
            "bytes": {"wire": self.fetch.wire_bytes, "reused": self.fetch.reused_bytes, "resumes": self.fetch.resumes},
        }

    def save(self, path: Path) -> None:
        kept = {key: value for key, value in self.as_dict().items() if key not in ("current", "previous", "pending")}
        atomic_write(path, json.dumps(kept).encode())

    def restore(self, path: Path) -> None:
        """Take back what the last run saved (a missing or damaged file starts from zero, loudly)."""
        try:
            data = json.loads(path.read_text())
            self.last_check, self.last_fresh = data.get("last_check"), data.get("last_fresh")
            self.last_error, self.last_reason = data.get("last_error"), data.get("last_reason")
            self.rejected = {str(k): int(v) for k, v in data.get("rejected", {}).items()}
            counts = data.get("bytes", {})
            self.fetch.wire_bytes = int(counts.get("wire", 0))
            self.fetch.reused_bytes = int(counts.get("reused", 0))
            self.fetch.resumes = int(counts.get("resumes", 0))
        except FileNotFoundError:
            return
        except (OSError, ValueError, TypeError, AttributeError) as exc:
            log.error("sync: %s is damaged (%s); counters start from zero", path, exc)
