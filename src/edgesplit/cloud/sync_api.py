"""The cloud's sync routes: its TUF repository over HTTP, behind the same bearer token as every call.

``GET /v1/sync/metadata/{name}`` serves TUF metadata, ``GET /v1/sync/targets/{path}`` the files.
Targets honour ``Range`` (Starlette's ``FileResponse``), so an edge resumes a cut download;
TUF still checks the length and hash of the whole file. Before a target is served its bytes are
checked against the digest in its name (once per file version: size, mtime and inode), so a file
damaged on the server's disk answers 500 (``IntegrityError``) instead of reaching every edge.
Re-signing the metadata is :mod:`edgesplit.cloud.freshness`'s job.
"""

from __future__ import annotations

import asyncio
import logging
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

from edgesplit.errors import IntegrityError, NotFound
from edgesplit.sync.files import file_digest

if TYPE_CHECKING:
    from fastapi import FastAPI

    from edgesplit.cloud.repository import SyncRepository

__all__ = ["add_sync_routes"]

log = logging.getLogger("edgesplit.cloud.sync")

_METADATA_NAME = re.compile(r"^(\d+\.)?(root|targets|snapshot|timestamp)\.json$")
_TARGET_PART = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")


def add_sync_routes(app: FastAPI, repository: SyncRepository) -> None:
    from fastapi.responses import FileResponse

    @app.get(
        "/v1/sync/metadata/{name}",
        response_class=FileResponse,
        response_model=None,
        responses=_file("application/json", _SIGNED),
    )
    async def metadata(name: str) -> FileResponse:
        if not _METADATA_NAME.match(name):
            raise NotFound(f"no sync metadata named {name!r}", code="not_found")
        return FileResponse(_existing(repository.metadata_dir / name), media_type="application/json")

    @app.get(
        "/v1/sync/targets/{path:path}",
        response_class=FileResponse,
        response_model=None,
        responses=_file("application/octet-stream", _BYTES),
    )
    async def target(path: str) -> FileResponse:
        parts = path.split("/")
        if not all(_TARGET_PART.match(part) for part in parts):
            raise NotFound(f"no sync target {path!r}", code="not_found")
        stored = _existing(repository.targets_dir.joinpath(*parts))
        await asyncio.to_thread(_check_digest, stored)
        return FileResponse(stored, media_type="application/octet-stream")


# TUF metadata: a signed document (the role's fields under "signed", checked by the edge's tuf client)
_SIGNED = {
    "type": "object",
    "required": ["signed", "signatures"],
    "properties": {
        "signed": {"type": "object", "required": ["_type", "version", "expires"]},
        "signatures": {"type": "array", "items": {"type": "object", "required": ["keyid", "sig"]}},
    },
}
_BYTES = {"type": "string", "format": "binary"}


def _file(media_type: str, schema: dict[str, Any]) -> dict[int | str, dict[str, Any]]:
    """The OpenAPI answer of a route that sends a file (its return type is not a model)."""
    return {200: {"content": {media_type: {"schema": schema}}, "description": "The file"}}


def _existing(path: Path) -> Path:
    if not path.is_file():
        raise NotFound(f"no sync file {path.name!r}: nothing published yet, or not this version", code="not_found")
    return path


_CHECKED: dict[Path, tuple[int, int, int]] = {}  # path -> (size, mtime_ns, inode) last found intact


def _check_digest(path: Path) -> None:
    stat = path.stat()
    stamp = (stat.st_size, stat.st_mtime_ns, stat.st_ino)
    if _CHECKED.get(path) == stamp:
        return
    expected = path.name.split(".", 1)[0]
    if file_digest(path)[0] != expected:
        _CHECKED.pop(path, None)
        log.error("sync: stored target %s is damaged (sha256 differs from its name); republish it", path.name)
        raise IntegrityError(f"sync target {path.name!r} is damaged on the server; the operator must republish it")
    _CHECKED[path] = stamp
