"""The cloud's sync routes: its TUF repository over HTTP, behind the same bearer token as every call.

``GET /v1/sync/metadata/{name}`` serves TUF metadata, ``GET /v1/sync/targets/{path}`` the files.
Targets honour ``Range`` (Starlette's ``FileResponse``), so an edge resumes a cut download;
TUF still checks the length and hash of the whole file. A background task re-signs the timestamp
before it expires, when the timestamp key is on this node (``sync_keys_dir``).
"""

from __future__ import annotations

import asyncio
import logging
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from edgesplit.errors import NotFound

if TYPE_CHECKING:
    from fastapi import FastAPI

    from edgesplit.cloud.repository import SyncRepository

__all__ = ["add_sync_routes", "keep_timestamp_fresh"]

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
        return FileResponse(_existing(repository.targets_dir.joinpath(*parts)), media_type="application/octet-stream")


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


async def keep_timestamp_fresh(repository: SyncRepository, check_s: float = 60.0) -> None:
    """Re-sign the timestamp once less than half of its lifetime is left (cancel to stop)."""
    while True:
        expires = repository.timestamp_expires()
        if expires is not None:
            left_s = (expires - datetime.now(UTC)).total_seconds()
            if left_s < repository.timestamp_expiry.total_seconds() / 2:
                version = await asyncio.to_thread(repository.refresh_timestamp)
                log.info("sync timestamp re-signed: version %d", version)
        await asyncio.sleep(check_s)
