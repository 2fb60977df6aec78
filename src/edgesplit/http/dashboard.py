"""The dashboard every node serves: ``/dashboard`` (a page and its assets) and ``GET /v1/stats``.

The page and its assets hold no data and need no token, so a browser can open them; everything
they show comes from ``/v1/stats``, which takes the same bearer token as the API. The page asks
for the token (or reads it from ``#token=...``, which browsers never send to the server) and
keeps it in the tab's session storage. The assets ship in the package (``http/static``: uPlot,
vendored by ``tools/vendor_assets.py``): no build step and no internet.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from fastapi.responses import FileResponse

from edgesplit.errors import NotFound
from edgesplit.http.stats_models import Stats

if TYPE_CHECKING:
    from fastapi import FastAPI

    from edgesplit.http.stats import StatsHistory

__all__ = ["DASHBOARD_PREFIX", "add_dashboard_routes"]

DASHBOARD_PREFIX = "/dashboard"
_STATIC = Path(__file__).parent / "static"
_TYPES = {".js": "text/javascript", ".css": "text/css", ".html": "text/html"}
_ASSETS = {p.name: p for p in _STATIC.iterdir() if p.suffix in _TYPES}


def add_dashboard_routes(app: FastAPI, history: StatsHistory) -> None:
    @app.get(DASHBOARD_PREFIX, include_in_schema=False)
    async def dashboard() -> FileResponse:
        return FileResponse(_STATIC / "dashboard.html", media_type="text/html", headers=_NO_STORE)

    @app.get(DASHBOARD_PREFIX + "/{name}", include_in_schema=False)
    async def asset(name: str) -> FileResponse:
        path = _ASSETS.get(name)
        if path is None:
            raise NotFound(f"no dashboard asset {name!r}")
        return FileResponse(path, media_type=_TYPES[path.suffix])

    @app.get("/v1/stats", response_model=Stats)
    async def stats() -> Stats:
        """The node's recent history: series, summary tiles, link, outbox and what runs here."""
        return await history.payload()


_NO_STORE = {"cache-control": "no-store"}
