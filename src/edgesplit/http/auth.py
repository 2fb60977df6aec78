"""Bearer tokens between tiers: the header a caller sends, and the tokens a node accepts.

A node accepts ``api_token``, every token in ``api_tokens`` and every line of ``api_tokens_file``
(re-read when the file changes, at most once a second). To rotate, add the new token, move the
callers over, then remove the old one: a request is checked once, when it arrives, so swapping
the list never cuts one in flight. Every accepted token is compared in constant time
(``hmac.compare_digest``), each of them, whether an earlier one matched or not.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from edgesplit.config import Settings

__all__ = ["TokenSet"]

_RECHECK_S = 1.0  # how often the tokens file's mtime is looked at


class TokenSet:
    """The tokens a node accepts; :meth:`client` names the caller a presented token belongs to."""

    def __init__(self, tokens: list[str], path: Path | None = None) -> None:
        self._fixed = [t.encode() for t in tokens if t]
        self._path = path
        self._from_file: list[bytes] = []
        self._stamp: tuple[int, int] | None = None
        self._checked = 0.0
        self._reload()

    @classmethod
    def from_settings(cls, settings: Settings) -> TokenSet | None:
        """The node's tokens, or None when it requires none."""
        if not settings.requires_token:
            return None
        secrets = [*([settings.api_token] if settings.api_token else []), *settings.api_tokens]
        return cls([secret.get_secret_value() for secret in secrets], settings.api_tokens_file)

    def client(self, presented: str) -> str | None:
        """A short, non-reversible id of the caller (for rate limits and metrics), or None if refused."""
        self._reload_if_due()
        candidate = presented.encode()
        ok = False
        for token in [*self._fixed, *self._from_file]:
            ok |= hmac.compare_digest(candidate, token)  # every token, in constant time each
        return "token:" + hashlib.sha256(candidate).hexdigest()[:12] if ok else None

    def _reload_if_due(self) -> None:
        now = time.monotonic()
        if self._path is not None and now - self._checked >= _RECHECK_S:
            self._checked = now
            self._reload()

    def _reload(self) -> None:
        if self._path is None:
            return
        try:
            stat = self._path.stat()
            stamp = (stat.st_mtime_ns, stat.st_size)
            if stamp != self._stamp:
                lines = self._path.read_text().splitlines()
                self._from_file = [line.strip().encode() for line in lines if line.strip() and not line.startswith("#")]
                self._stamp = stamp
        except OSError:
            pass  # a file being replaced: keep the tokens read last
