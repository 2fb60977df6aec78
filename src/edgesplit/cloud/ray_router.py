"""SessionRouter: Ray Serve's request router for the cloud tier (imported only with ``edgesplit[ray]``).

Two kinds of request reach the cloud's replicas, and they want different routing:

- a call of a split or verify session carries ``x-session-id`` (transport/sessions.py) and must
  reach the replica holding that session's KV cache: Ray's ``ConsistentHashRouter`` over the
  key, with no fallback replica (strict affinity);
- full generation carries no key and holds no state: it goes to the replica with the shortest
  queue. ``ConsistentHashRouter`` alone hashes such a request on its request id, a uniform
  random pick that ignores load; with one llama.cpp model per replica answering one request at
  a time, that left replicas idle while others queued (bench/scale.py measured 2 replicas at
  1.0x the throughput of one under 4 clients).

For a request without a key this returns every candidate as one rank: Ray's base router then
probes their queue lengths and takes the shortest, as its power-of-two router does for two. They
come in random order, so that a tie (idle replicas) is broken at random.
"""

from __future__ import annotations

import random
from typing import Any

from ray.serve.experimental.consistent_hash_router import ConsistentHashRouter

__all__ = ["SessionRouter"]


class SessionRouter(ConsistentHashRouter):
    """Strict affinity for session calls, least-loaded replica for everything else."""

    async def choose_replicas(self, candidate_replicas: list[Any], pending_request: Any = None) -> list[list[Any]]:
        if pending_request is not None and not pending_request.metadata.session_id and candidate_replicas:
            return [random.sample(candidate_replicas, len(candidate_replicas))]  # the base takes the first of equals
        return list(await super().choose_replicas(candidate_replicas, pending_request))
