"""Bearer tokens between tiers: the header a caller sends (checking it is in ``http/app.py``)."""

from __future__ import annotations

__all__ = ["bearer_headers"]


def bearer_headers(token: str | None) -> dict[str, str]:
    """``{"authorization": "Bearer <token>"}``, or no header when no token is configured."""
    return {"authorization": f"Bearer {token}"} if token else {}
