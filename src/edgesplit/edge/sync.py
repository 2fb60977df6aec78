"""SyncClient: pull the newest bundle from the upstream's TUF repository, verified, into staging.

One pull: refresh the TUF metadata (root → timestamp → snapshot → targets, every signature,
version and expiry checked by ``tuf.ngclient.Updater``), read ``bundle.json``, and if it is newer
than what this node serves, gather the files this tier needs: from a kept version when the digest
is unchanged, otherwise downloaded with Range resume. The complete, verified version is committed
to the :class:`~edgesplit.edge.bundles.BundleStore`; swapping it into the running node is
:mod:`edgesplit.edge.swap`'s job. Every refusal is a :class:`~edgesplit.errors.BundleRejected`
with a reason, and the node keeps serving what it has.

No answer is not "nothing new": a 404, a 5xx or a timeout on any metadata file fails the pull
(``unavailable``, ``download``, ``slow``), because a mirror that withholds ``timestamp.json``
would otherwise hold the edge on an old bundle in silence. :attr:`SyncClient.fresh_at` records
when a whole refresh last verified, the basis of the edge's staleness alarm.
"""

from __future__ import annotations

import errno
import shutil
import ssl
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

from edgesplit.edge.bundles import BundleStore
from edgesplit.edge.fetcher import DeadlinePassed, ResumingFetcher
from edgesplit.errors import BundleRejected
from edgesplit.sync.manifest import BUNDLE_TARGET, BundleManifest

__all__ = ["SyncClient", "rejection_reason"]

_FREE_MARGIN_BYTES = 16 * 1024 * 1024  # left free after staging, for SQLite and logs


class SyncClient:
    """Pulls for one tier ("device" or "local") from ``base_url`` (the upstream node)."""

    def __init__(
        self,
        store: BundleStore,
        base_url: str,
        token: str | None,
        trusted_root: bytes,
        tier: str,
        timeout_s: float = 30.0,
        transport: httpx.BaseTransport | None = None,
        progress: Callable[[str, int], None] | None = None,
        verify: ssl.SSLContext | bool = True,
        min_rate_bps: float = 20_000.0,
    ) -> None:
        self.store = store
        self.base_url = base_url.rstrip("/")
        self.trusted_root = trusted_root
        self.tier = tier
        self.fetcher = ResumingFetcher(
            token, store.partial_dir, timeout_s, transport=transport, verify=verify, min_rate_bps=min_rate_bps
        )
        self.progress = progress  # (target path, length) before each download
        self.fresh_at: float | None = None  # unix time the last whole metadata refresh verified
        self.pending: int | None = None  # the version this pull is fetching, while it runs
        self._downloading: tuple[str, int, int] | None = None  # target, length, wire bytes when it started

    def downloading(self) -> dict[str, Any] | None:
        """The target being downloaded now: its path, length and bytes so far (for progress bars)."""
        if self._downloading is None:
            return None
        path, length, start = self._downloading
        done = self.fetcher.stats.wire_bytes - start
        return {"target": path, "length": length, "bytes": min(done, length)}

    def close(self) -> None:
        self.fetcher.close()

    def pull(self, floor: int | None) -> BundleManifest | None:
        """A version newer than ``floor``, committed to the store; None when there is none."""
        try:
            return self._pull(floor)
        except BundleRejected:
            raise
        except DeadlinePassed as exc:
            raise BundleRejected(f"sync: slow: {exc}", "slow") from exc
        except Exception as exc:
            reason = rejection_reason(exc)
            if reason == "corrupt":
                self.fetcher.discard_partials()
            raise BundleRejected(f"sync: {reason}: {type(exc).__name__}: {exc}", reason) from exc
        finally:
            self.pending = None

    def _pull(self, floor: int | None) -> BundleManifest | None:
        updater = self._updater()
        updater.refresh()  # every failure raises: withheld metadata is an error, not "nothing new"
        self.fresh_at = time.time()
        info = updater.get_targetinfo(BUNDLE_TARGET)
        if info is None:
            return None
        staged = self.store.staging(0)
        manifest_path = updater.download_target(info, str(staged / BUNDLE_TARGET))
        manifest = BundleManifest.model_validate_json(Path(manifest_path).read_bytes())
        if floor is not None and manifest.version <= floor:
            shutil.rmtree(staged, ignore_errors=True)
            return None
        self.pending = manifest.version
        version_dir = self.store.staging(manifest.version)
        shutil.move(manifest_path, version_dir / BUNDLE_TARGET)
        shutil.rmtree(staged, ignore_errors=True)
        infos = {path: updater.get_targetinfo(path) for path in self._needed(manifest)}
        if missing := [path for path, target in infos.items() if target is None]:
            raise BundleRejected(f"sync: bundle {manifest.version} names unsigned files: {missing}", "invalid")
        self._check_space(version_dir, [target.length for target in infos.values() if target is not None])
        for path, target in infos.items():
            assert target is not None
            self._gather(updater, target, version_dir / path)
        self.store.commit(manifest.version, version_dir)
        return manifest

    def _updater(self) -> Any:
        from tuf.ngclient import Updater

        return Updater(
            str(self.store.metadata_dir),
            f"{self.base_url}/v1/sync/metadata/",
            str(self.store.directory / "staging"),
            f"{self.base_url}/v1/sync/targets/",
            fetcher=self.fetcher,
            bootstrap=self.trusted_root,
        )

    def _needed(self, manifest: BundleManifest) -> list[str]:
        files = manifest.for_tier(self.tier)
        return [p for p in (files.model, files.router, manifest.policy, manifest.preprocess) if p]

    def _check_space(self, folder: Path, lengths: list[int]) -> None:
        free = shutil.disk_usage(folder).free
        need = sum(lengths) + _FREE_MARGIN_BYTES
        if need > free:
            raise BundleRejected(f"sync: staging needs {need} bytes, {free} are free", "disk_full")

    def _gather(self, updater: Any, target: Any, destination: Path) -> None:
        destination.parent.mkdir(parents=True, exist_ok=True)
        kept = self.store.find(target.hashes["sha256"], target.length)
        if kept is not None:
            shutil.copyfile(kept, destination)
            if updater.find_cached_target(target, str(destination)) is not None:
                return
        if self.progress is not None:
            self.progress(target.path, target.length)
        self._downloading = (target.path, target.length, self.fetcher.stats.wire_bytes)
        try:
            with self.fetcher.deadline_for(target.length):
                updater.download_target(target, str(destination))
        finally:
            self._downloading = None


def rejection_reason(exc: BaseException) -> str:
    """The reason label for a failed pull (metrics and ``sync status``)."""
    from tuf.api import exceptions as tuf_errors

    if isinstance(exc, BundleRejected):
        return exc.reason
    if isinstance(exc, OSError) and exc.errno == errno.ENOSPC:
        return "disk_full"
    pairs: list[tuple[type[BaseException], str]] = [
        (tuf_errors.LengthOrHashMismatchError, "corrupt"),
        (tuf_errors.DownloadLengthMismatchError, "corrupt"),
        (tuf_errors.UnsignedMetadataError, "bad_signature"),
        (tuf_errors.ExpiredMetadataError, "expired"),
        (tuf_errors.BadVersionNumberError, "rollback"),
        (tuf_errors.DownloadHTTPError, "unavailable"),  # a 404 or 5xx: withheld, or the upstream is broken
        (tuf_errors.SlowRetrievalError, "slow"),
        (tuf_errors.DownloadError, "download"),
        (tuf_errors.RepositoryError, "invalid"),
    ]
    for kind, reason in pairs:
        if isinstance(exc, kind):
            return reason
    return "invalid"
