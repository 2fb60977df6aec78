"""BundleStore: the verified bundle versions an edge keeps on disk, and which one it serves.

Layout under ``directory``::

    metadata/        the TUF Updater's trusted metadata
    partial/         cut downloads, resumed by the fetcher
    staging/<v>/     a version being assembled (never served)
    versions/<v>/    complete versions: the files plus files.json (their sha256 and length)
    state.json       {"current": v, "previous": u, "skip_through": w}, replaced atomically

A version is staged, checked, then renamed into ``versions/`` in one step; the node swaps it in
and only then is ``state.json`` replaced. A process killed at any point restarts on a complete
version: the old one until ``state.json`` names the new one. The previous version stays for
``edgesplit sync rollback``.
"""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import asdict, dataclass
from pathlib import Path

from edgesplit.sync.files import file_digest
from edgesplit.sync.manifest import BUNDLE_TARGET, BundleManifest

__all__ = ["BundleStore", "SyncState", "file_digest"]


@dataclass(frozen=True)
class SyncState:
    current: int | None = None
    previous: int | None = None
    skip_through: int | None = None  # versions up to this one are not pulled again (rolled back, or refused)

    @property
    def floor(self) -> int | None:
        """The newest version a pull should ignore."""
        known = [v for v in (self.current, self.skip_through) if v is not None]
        return max(known) if known else None


class BundleStore:
    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.metadata_dir = directory / "metadata"
        self.partial_dir = directory / "partial"
        for folder in (self.metadata_dir, self.partial_dir, directory / "staging", directory / "versions"):
            folder.mkdir(parents=True, exist_ok=True)

    def state(self) -> SyncState:
        try:
            data = json.loads((self.directory / "state.json").read_text())
        except FileNotFoundError:
            return SyncState()
        return SyncState(data.get("current"), data.get("previous"), data.get("skip_through"))

    def set_state(self, state: SyncState) -> None:
        tmp = self.directory / ".state.json.tmp"
        with open(tmp, "w") as handle:
            json.dump(asdict(state), handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, self.directory / "state.json")
        _fsync_dir(self.directory)

    def version_dir(self, version: int) -> Path:
        return self.directory / "versions" / str(version)

    def manifest(self, version: int) -> BundleManifest:
        return BundleManifest.model_validate_json((self.version_dir(version) / BUNDLE_TARGET).read_bytes())

    def staging(self, version: int) -> Path:
        """An empty staging directory for ``version``."""
        path = self.directory / "staging" / str(version)
        shutil.rmtree(path, ignore_errors=True)
        path.mkdir(parents=True)
        return path

    def commit(self, version: int, staged: Path) -> Path:
        """Record the staged files' digests and move the whole version into ``versions/`` at once."""
        digests = {
            str(path.relative_to(staged)): file_digest(path) for path in sorted(staged.rglob("*")) if path.is_file()
        }
        (staged / "files.json").write_text(json.dumps(digests, indent=1))
        final = self.version_dir(version)
        shutil.rmtree(final, ignore_errors=True)
        os.replace(staged, final)
        _fsync_dir(final.parent)
        return final

    def is_complete(self, version: int) -> bool:
        """Every file of ``version`` present with the digest recorded at commit (checked at start-up)."""
        folder = self.version_dir(version)
        try:
            digests = json.loads((folder / "files.json").read_text())
        except (OSError, ValueError):
            return False
        return all(_matches(folder / name, digest) for name, digest in digests.items())

    def find(self, sha256: str, length: int) -> Path | None:
        """A file with this digest in a kept version, so an unchanged model is not downloaded again."""
        state = self.state()
        for version in (state.current, state.previous):
            if version is None:
                continue
            try:
                digests = json.loads((self.version_dir(version) / "files.json").read_text())
            except (OSError, ValueError):
                continue
            for name, (digest, size) in digests.items():
                if digest == sha256 and size == length:
                    return self.version_dir(version) / str(name)
        return None

    def prune(self) -> None:
        """Drop every version but the current and the previous one, and stale staging dirs."""
        state = self.state()
        keep = {str(v) for v in (state.current, state.previous) if v is not None}
        for folder in (self.directory / "versions").iterdir():
            if folder.name not in keep:
                shutil.rmtree(folder, ignore_errors=True)
        for folder in (self.directory / "staging").iterdir():
            shutil.rmtree(folder, ignore_errors=True)


def _matches(path: Path, recorded: list[object]) -> bool:
    try:
        return list(file_digest(path)) == list(recorded)
    except OSError:
        return False


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
