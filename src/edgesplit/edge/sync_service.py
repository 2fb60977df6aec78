"""SyncService: the edge's sync loop, its routes and its status.

``POST /v1/sync/pull`` (and the poll every ``sync_interval_s``) pulls, verifies, swaps in and only
then records the new version as current; ``POST /v1/sync/rollback`` swaps the previous version
back; ``GET /v1/sync/status`` says what runs, what is pending, when metadata was last verified
fresh, when each role expires and why the last bundle was refused. Pull and rollback are admin
routes (``admin_token``, checked by the Guard).

One pull or rollback runs at a time. A pull waits its turn (a later pull is harmless); a
rollback never waits: while a pull holds the lock it fails at once with 409 ``sync_busy``, so it
can never run after its caller gave up. Versions refused or rolled back from stay refused
(``skip_through`` only grows); a newer publish is taken.
"""

from __future__ import annotations

import asyncio
import logging
import time
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from edgesplit.background import stop_task
from edgesplit.edge.bundles import BundleStore, SyncState
from edgesplit.edge.swap import BundleFiles, SwapTarget, bundle_settings, swap_bundle
from edgesplit.edge.sync import SyncClient
from edgesplit.edge.sync_status import SyncStatus, SyncStatusBody, SyncStatusNow
from edgesplit.errors import BundleRejected, Busy, InvalidRequest
from edgesplit.sync.expiry import expiry_warnings, seconds_left, trusted_expiries
from edgesplit.transport.tls import upstream_verify

if TYPE_CHECKING:
    from fastapi import FastAPI

    from edgesplit.config import Settings

__all__ = ["SyncService", "sync_service"]

log = logging.getLogger("edgesplit.edge.sync")


class SyncService:
    def __init__(self, node: SwapTarget, base: Settings, store: BundleStore, client: SyncClient, serving: int | None):
        self.node = node
        self.base = base  # the node's own configuration; bundles apply on top of it
        self.store = store
        self.client = client
        state = store.state()
        if serving != state.current:  # the recorded version was damaged on disk: pull it again
            state = SyncState(serving, None, state.skip_through)
            store.set_state(state)
        self.status = SyncStatus(
            current=serving, previous=state.previous, fetch=client.fetcher.stats, alarm_s=base.sync_stale_alarm_s
        )
        self.status.restore(self._status_path)
        self.warn_within = timedelta(days=base.sync_expiry_warn_days)
        self._lock = asyncio.Lock()
        self._task: asyncio.Task[None] | None = None
        self._alarmed = False
        self._restore_metrics()
        self._publish_metrics()

    @property
    def _status_path(self) -> Any:
        return self.store.directory / "status.json"

    def start(self, interval_s: float) -> None:
        if interval_s > 0:
            self._task = asyncio.create_task(self._poll(interval_s), name="edgesplit-sync")

    async def stop(self) -> None:
        await stop_task(self._task)
        self.client.close()

    async def pull(self) -> SyncStatus:
        """Pull once; a refused bundle raises BundleRejected and leaves the current one serving."""
        async with self._lock:
            self.status.last_check = time.time()
            wire, reused = self.client.fetcher.stats.wire_bytes, self.client.fetcher.stats.reused_bytes
            try:
                manifest = await asyncio.to_thread(self.client.pull, self.store.state().floor)
                if manifest is not None:
                    self.status.pending = manifest.version
                    self._publish_metrics()
                    await self._swap_in(manifest.version)
                self.status.last_error = self.status.last_reason = None
            except BundleRejected as exc:
                self._reject(exc)
                raise
            finally:
                self.status.pending = None
                self.status.last_fresh = self.client.fresh_at or self.status.last_fresh
                stats = self.client.fetcher.stats
                self.node.metrics.sync_bytes.labels(kind="wire").inc(stats.wire_bytes - wire)
                self.node.metrics.sync_bytes.labels(kind="reused").inc(stats.reused_bytes - reused)
                await asyncio.to_thread(self.status.save, self._status_path)
                self._publish_metrics()
            return self.status

    async def rollback(self) -> SyncStatus:
        """Serve the previous version again, now or not at all (Busy while a pull runs). The version
        rolled back from, and every version refused before, is not pulled again; a newer publish is."""
        if self._lock.locked():
            raise Busy("a sync pull is running; roll back once it ends (edgesplit sync status)", code="sync_busy")
        async with self._lock:
            previous, current = self.status.previous, self.status.current
            if previous is None or not await asyncio.to_thread(self.store.is_complete, previous):
                raise InvalidRequest("no previous bundle version to roll back to", code="no_previous_version")
            await self._swap_to(previous)
            skip = max(v for v in (current, self.store.state().skip_through, 0) if v is not None)
            await self._record(SyncState(previous, None, skip or None))
            log.warning("sync: rolled back from bundle %s to %d", current, previous)
            return self.status

    async def _swap_in(self, version: int) -> None:
        """Swap a freshly pulled version in; one that fails to load or smoke-test is not retried."""
        state = self.store.state()
        try:
            await self._swap_to(version)
        except BundleRejected:
            refused = SyncState(state.current, state.previous, max(version, state.skip_through or 0))
            await asyncio.to_thread(self.store.set_state, refused)
            raise
        await self._record(SyncState(version, self.status.current, state.skip_through))

    async def _swap_to(self, version: int) -> None:
        files = BundleFiles.load(self.store, version, self.base.tier)
        await swap_bundle(self.node, bundle_settings(self.base, files))
        log.info("sync: now serving bundle %d", version)

    async def _record(self, state: SyncState) -> None:
        """Make ``state`` the one a restart serves (fsync'd), then drop versions no longer kept."""
        await asyncio.to_thread(self.store.set_state, state)
        self.status.current, self.status.previous = state.current, state.previous
        self._publish_metrics()
        await asyncio.to_thread(self.store.prune)

    def _reject(self, exc: BundleRejected) -> None:
        self.status.last_error, self.status.last_reason = str(exc), exc.reason
        self.status.rejected[exc.reason] = self.status.rejected.get(exc.reason, 0) + 1
        self.node.metrics.sync_rejected.labels(reason=exc.reason).inc()
        log.error("sync: bundle refused (%s); still serving version %s: %s", exc.reason, self.status.current, exc)

    def _publish_metrics(self) -> None:
        metrics = self.node.metrics
        for which in ("current", "previous", "pending"):
            metrics.sync_version.labels(which=which).set(getattr(self.status, which) or 0)
        if self.status.last_check is not None:
            metrics.sync_last_check.set(self.status.last_check)
        for role, left_s in seconds_left(trusted_expiries(self.store.metadata_dir)).items():
            metrics.sync_expiry.labels(role=role).set(left_s)

    def _restore_metrics(self) -> None:
        """Counters start where the last run left them; staleness is read live at each scrape."""
        metrics = self.node.metrics
        for reason, count in self.status.rejected.items():
            metrics.sync_rejected.labels(reason=reason).inc(count)
        metrics.sync_bytes.labels(kind="wire").inc(self.status.fetch.wire_bytes)
        metrics.sync_bytes.labels(kind="reused").inc(self.status.fetch.reused_bytes)
        metrics.sync_stale.set_function(self.status.stale_s)
        metrics.sync_stale_alarm.set_function(lambda: float(self.status.stale()))

    def snapshot(self) -> dict[str, Any]:
        """The status with the live fields: pending and downloading from the pull in flight, expiries."""
        expiries = trusted_expiries(self.store.metadata_dir)
        return {
            **self.status.as_dict(),
            "pending": self.status.pending or self.client.pending,
            "expires_in_s": seconds_left(expiries),
            "warnings": expiry_warnings(expiries, self.warn_within),
        }

    def _check_alarm(self) -> None:
        stale = self.status.stale()
        if stale and not self._alarmed:
            log.error(
                "sync: no fresh metadata verified for %.0f s (alarm at %.0f s); last error: %s",
                self.status.stale_s(), self.status.alarm_s, self.status.last_error,
            )  # fmt: skip
        self._alarmed = stale

    async def _poll(self, interval_s: float) -> None:
        while True:
            try:
                await self.pull()
            except BundleRejected:
                pass  # logged and counted; try again next interval
            except Exception:
                log.exception("sync: pull failed")
            self._check_alarm()
            await asyncio.sleep(interval_s)

    def add_routes(self, app: FastAPI) -> None:
        @app.get("/v1/sync/status", response_model=SyncStatusNow)
        async def sync_status() -> dict[str, Any]:
            return {**self.snapshot(), "downloading": self.client.downloading()}

        @app.post("/v1/sync/pull", response_model=SyncStatusBody)
        async def sync_pull() -> dict[str, Any]:
            await self.pull()
            return self.snapshot()

        @app.post("/v1/sync/rollback", response_model=SyncStatusBody)
        async def sync_rollback() -> dict[str, Any]:
            await self.rollback()
            return self.snapshot()


def sync_service(node: SwapTarget, base: Settings, store: BundleStore, serving: int | None) -> SyncService:
    """The sync loop for ``node``: pulling from its upstream, trusting ``base.sync_root``."""
    from edgesplit.sync.keys import trusted_root

    assert base.upstream is not None and base.sync_root is not None
    root = trusted_root(base.sync_root)
    verify = upstream_verify(base.upstream_ca)
    client = SyncClient(
        store, base.upstream, base.upstream_secret(), root, base.tier, base.upstream_timeout_s, verify=verify,
        min_rate_bps=base.sync_min_rate_bps,
    )  # fmt: skip
    return SyncService(node, base, store, client, serving)
