"""TLS between tiers: a node's listener (``tls_cert``, ``tls_key``) and what its clients trust.

A node with ``tls_cert`` and ``tls_key`` serves HTTPS only. A tier calling an ``https://``
upstream verifies its certificate against ``upstream_ca`` (a PEM bundle: a site's own CA), or
against the system's CAs when none is set; a certificate that does not chain to it is refused
before any byte of a request leaves. Plain ``http://`` stays for loopback and tests.
"""

from __future__ import annotations

import ssl
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from edgesplit.config import Settings

__all__ = ["TlsFiles", "upstream_verify"]


@dataclass(frozen=True)
class TlsFiles:
    """A listener's certificate chain and private key (PEM files)."""

    cert: Path
    key: Path

    @classmethod
    def from_settings(cls, settings: Settings) -> TlsFiles | None:
        if settings.tls_cert is None or settings.tls_key is None:
            return None
        return cls(settings.tls_cert, settings.tls_key)

    def uvicorn_options(self) -> dict[str, Any]:
        return {"ssl_certfile": str(self.cert), "ssl_keyfile": str(self.key)}


def upstream_verify(ca: Path | None) -> ssl.SSLContext | bool:
    """What an HTTP client to the upstream verifies against: the given CA bundle, or the system's."""
    if ca is None:
        return True
    return ssl.create_default_context(cafile=str(ca))
