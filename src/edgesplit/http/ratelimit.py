"""Per-client rate limits: a token bucket per caller, 429 with ``Retry-After`` when it is empty.

A caller is its bearer token (by a hash of it, never the token) or, on a node without tokens,
its address. ``rate_limit_rps`` refills each bucket, ``rate_limit_burst`` is its size. Buckets
idle long enough to be full again are forgotten, so the table stays as small as the set of
active clients.
"""

from __future__ import annotations

import math
import time

from edgesplit.errors import RateLimited

__all__ = ["RateLimiter"]

_SWEEP_EVERY = 1024  # takes between sweeps of full buckets


class RateLimiter:
    def __init__(self, rate_per_s: float, burst: int) -> None:
        self.rate = rate_per_s
        self.burst = float(burst)
        self._buckets: dict[str, tuple[float, float]] = {}  # client -> (tokens, last refill, monotonic s)
        self._takes = 0

    def take(self, client: str) -> None:
        """Spend one request of ``client``'s bucket; raises RateLimited (with the wait) when it is empty."""
        now = time.monotonic()
        tokens, last = self._buckets.get(client, (self.burst, now))
        tokens = min(self.burst, tokens + (now - last) * self.rate)
        if tokens < 1.0:
            self._buckets[client] = (tokens, now)
            wait = math.ceil((1.0 - tokens) / self.rate)
            raise RateLimited(f"rate limit: {self.rate:g} requests/s (burst {self.burst:g}) for this client", wait)
        self._buckets[client] = (tokens - 1.0, now)
        self._takes += 1
        if self._takes % _SWEEP_EVERY == 0:
            self._sweep(now)

    def _sweep(self, now: float) -> None:
        full_after = self.burst / self.rate
        self._buckets = {c: (t, last) for c, (t, last) in self._buckets.items() if now - last < full_after}
