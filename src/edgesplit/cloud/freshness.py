"""The serving cloud's metadata loop: re-sign snapshot and timestamp on schedule, warn of the rest.

Every ``sync_refresh_check_s`` the loop asks the repository to re-sign what is due (see
:mod:`edgesplit.cloud.online_signing`), exports the seconds left per role as
``edgesplit_sync_metadata_expiry_seconds{role}``, and logs a warning, at most once a day per
role, for root and targets metadata (which need the offline keys) expiring within
``sync_expiry_warn_days``. A failure to sign is logged and retried on the next tick.
"""

from __future__ import annotations

import asyncio
import logging
import time
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from edgesplit.errors import ConfigError
from edgesplit.sync.expiry import expiry_warnings, seconds_left

if TYPE_CHECKING:
    from edgesplit.cloud.online_signing import OnlineSigner
    from edgesplit.metrics import NodeMetrics

__all__ = ["MetadataKeeper"]

log = logging.getLogger("edgesplit.cloud.sync")

_OFFLINE_RENEWED = ("root", "targets")  # the cloud cannot renew these: warn
_WARN_EVERY_S = 86400.0


class MetadataKeeper:
    def __init__(self, repository: OnlineSigner, metrics: NodeMetrics, warn_within: timedelta) -> None:
        self.repository = repository
        self.metrics = metrics
        self.warn_within = warn_within
        self.last_error: str | None = None
        self._warned: dict[str, float] = {}

    def tick(self) -> list[str]:
        """One round: re-sign what is due, export expiries, warn; the roles re-signed."""
        signed: list[str] = []
        if self.repository.has_online_keys():
            try:
                signed = self.repository.refresh_online()
                self.last_error = None
            except (ConfigError, OSError, ValueError) as exc:
                self.last_error = str(exc)
                log.error("sync: cannot re-sign online metadata: %s", exc)
        if signed:
            log.info("sync: re-signed %s", ", ".join(signed))
        self._export()
        return signed

    def describe(self) -> dict[str, Any]:
        """For the dashboard and /v1/stats: seconds left per role, warnings, the last signing error."""
        expiries = self.repository.expiries()
        return {
            "expires_in_s": seconds_left(expiries),
            "warnings": expiry_warnings(expiries, self.warn_within),
            "last_error": self.last_error,
        }

    def _export(self) -> None:
        expiries = self.repository.expiries()
        for role, left_s in seconds_left(expiries).items():
            self.metrics.sync_expiry.labels(role=role).set(left_s)
        roles = _OFFLINE_RENEWED if self.repository.has_online_keys() else (*_OFFLINE_RENEWED, "snapshot", "timestamp")
        for warning in expiry_warnings(expiries, self.warn_within, roles):
            role = warning.split(" ", 1)[0]
            if time.monotonic() - self._warned.get(role, -_WARN_EVERY_S) >= _WARN_EVERY_S:
                self._warned[role] = time.monotonic()
                log.warning("sync: %s; renew it with the offline key (publish --resign, keys rotate)", warning)

    async def run(self, check_s: float) -> None:
        """Tick every ``check_s`` seconds until cancelled."""
        while True:
            await asyncio.to_thread(self.tick)
            await asyncio.sleep(check_s)
