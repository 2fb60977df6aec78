"""SyncClient: pull the newest bundle from the upstream's TUF repository, verified, into staging.

One pull: refresh the TUF metadata (root → timestamp → snapshot → targets, every signature,
version and expiry checked by ``tuf.ngclient.Updater``), read ``bundle.json``, and if it is newer
than what this node serves, gather the files this tier needs: from a kept version when the digest
is unchanged, otherwise downloaded with Range resume. The complete, verified version is committed
to the :class:`~edgesplit.edge.bundles.BundleStore`; swapping it into the running node is
:mod:`edgesplit.edge.swap`'s job. Every refusal is a :class:`~edgesplit.errors.BundleRejected`
with a reason, and the node keeps serving what it has.
"""

from __future__ import annotations

import errno
import shutil
import ssl
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from pydantic import BaseModel

from edgesplit.edge.bundles import BundleStore
from edgesplit.edge.fetcher import FetchStats, ResumingFetcher
from edgesplit.errors import BundleRejected
from edgesplit.sync.manifest import BUNDLE_TARGET, BundleManifest

__all__ = ["SyncClient", "SyncStatus", "SyncStatusBody", "SyncStatusNow", "rejection_reason"]

_FREE_MARGIN_BYTES = 16 * 1024 * 1024  # left free after staging, for SQLite and logs


class SyncBytes(BaseModel):
    wire: int  # bytes downloaded
    reused: int  # bytes of targets already on disk, not downloaded again
    resumes: int  # downloads continued with an HTTP Range request


class SyncStatusBody(BaseModel):
    """``POST /v1/sync/pull`` and ``/v1/sync/rollback``: :class:`SyncStatus` after the call."""

    current: int | None  # bundle version serving
    previous: int | None  # the version a rollback returns to
    pending: int | None
    last_check: float | None
    last_error: str | None
    last_reason: str | None
    rejected: dict[str, int]
    bytes: SyncBytes


class Download(BaseModel):
    target: str
    length: int
    bytes: int


class SyncStatusNow(SyncStatusBody):
    """``GET /v1/sync/status``: the status and the download in progress, if any."""

    downloading: Download | None


@dataclass
class SyncStatus:
    """What ``edgesplit sync status`` shows and ``/metrics`` exports."""

    current: int | None = None
    previous: int | None = None
    pending: int | None = None  # a version being downloaded or swapped in
    last_check: float | None = None  # unix time of the last pull attempt
    last_error: str | None = None
    last_reason: str | None = None
    rejected: dict[str, int] = field(default_factory=dict)  # reason -> count
    fetch: FetchStats = field(default_factory=FetchStats)

    def as_dict(self) -> dict[str, Any]:
        return {
            "current": self.current,
            "previous": self.previous,
            "pending": self.pending,
            "last_check": self.last_check,
            "last_error": self.last_error,
            "last_reason": self.last_reason,
            "rejected": dict(self.rejected),
            "bytes": {
                "wire": self.fetch.wire_bytes,
                "reused": self.fetch.reused_bytes,
                "resumes": self.fetch.resumes,
            },
        }


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
    ) -> None:
        self.store = store
        self.base_url = base_url.rstrip("/")
        self.trusted_root = trusted_root
        self.tier = tier
        self.fetcher = ResumingFetcher(token, store.partial_dir, timeout_s, transport=transport, verify=verify)
        self.progress = progress  # (target path, length) before each download
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
        except Exception as exc:
            reason = rejection_reason(exc)
            if reason == "corrupt":
                self.fetcher.discard_partials()
            raise BundleRejected(f"sync: {reason}: {type(exc).__name__}: {exc}", reason) from exc

    def _pull(self, floor: int | None) -> BundleManifest | None:
        from tuf.api.exceptions import DownloadHTTPError

        updater = self._updater()
        try:
            updater.refresh()
        except DownloadHTTPError as exc:
            if exc.status_code == 404:  # the upstream has published nothing yet
                return None
            raise
        info = updater.get_targetinfo(BUNDLE_TARGET)
        if info is None:
            return None
        staged = self.store.staging(0)
        manifest_path = updater.download_target(info, str(staged / BUNDLE_TARGET))
        manifest = BundleManifest.model_validate_json(Path(manifest_path).read_bytes())
        if floor is not None and manifest.version <= floor:
            shutil.rmtree(staged, ignore_errors=True)
            return None
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
        (tuf_errors.DownloadError, "download"),
        (tuf_errors.RepositoryError, "invalid"),
    ]
    for kind, reason in pairs:
        if isinstance(exc, kind):
            return reason
    return "invalid"
