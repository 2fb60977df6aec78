"""Files the sync code writes and checks, on either side: atomic replacement and sha256 digests."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

__all__ = ["atomic_write", "file_digest"]


def atomic_write(path: Path, data: bytes, mode: int = 0o644) -> None:
    """Write beside ``path`` with ``mode`` from the start, fsync, then rename over it: a reader sees
    the old file or the new one, and an existing file's looser mode never survives."""
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.unlink(missing_ok=True)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    with os.fdopen(fd, "wb") as handle:
        os.fchmod(handle.fileno(), mode)  # the umask may have narrowed it; metadata must be readable
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, path)


def file_digest(path: Path) -> tuple[str, int]:
    """(sha256 hex, length) of a file, read in 1 MiB blocks."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while block := handle.read(1024 * 1024):
            digest.update(block)
    return digest.hexdigest(), path.stat().st_size
