"""The node's recent history for the dashboard: ``GET /v1/stats``, sampled from its own metrics.

Every ``interval_s`` seconds :class:`StatsHistory` reads the node's Prometheus registry (no second
set of counters to keep in step) and the outbox, and keeps the last ``points`` samples. The
endpoint turns them into series, one value per interval, oldest first (``null`` where there is
nothing to say, such as a percentile with no request):

- ``t``: unix time of each sample;
- ``served``: answers per interval by the tier that served them (``device``, ``local``, ``cloud``,
  ``upstream``; ``split`` and ``speculative`` when both tiers worked);
- ``routes``: per route of this node (``edge``, ``cloud``, ``split``, ``speculative``), time to first
  token and time between tokens, p50 and p95 in ms, over the trailing ``window_s`` (estimated from
  the histogram buckets, as Prometheus' ``histogram_quantile`` does);
- ``link``: upstream RTT (ms), probed bandwidth (Mbit/s) and breaker state (0 closed, 1 half-open,
  2 open);
- ``outbox``: jobs waiting (queued or delivering) and jobs finished per interval;
- ``escalations``: answers sent up, by routing rule, since start; ``redactions``: values redacted
  from text that left this tier, by entity type only (never a value), since start;
- ``node``: role, tier, model, router, privacy policy, bundle version and sync status.
"""

from __future__ import annotations

import asyncio
import itertools
import math
import time
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from edgesplit.background import stop_task

if TYPE_CHECKING:
    from prometheus_client import CollectorRegistry

    from edgesplit.http.node import Node

__all__ = ["Sample", "StatsHistory", "quantile"]

_LINK_STATES = {"closed": 0, "half-open": 1, "open": 2}
Buckets = dict[str, list[tuple[float, float]]]  # route -> [(upper bound s, cumulative count)]


@dataclass
class Sample:
    """One reading of the node's counters (cumulative since start, as Prometheus keeps them)."""

    t: float
    served: dict[str, float] = field(default_factory=dict)
    ttft: Buckets = field(default_factory=dict)
    token: Buckets = field(default_factory=dict)
    escalations: dict[str, float] = field(default_factory=dict)
    redactions: dict[str, float] = field(default_factory=dict)
    rtt_ms: float | None = None
    bandwidth_mbps: float | None = None
    link_state: int | None = None
    outbox_waiting: int | None = None
    outbox_finished: int | None = None


def read_sample(registry: CollectorRegistry, outbox_counts: dict[str, int] | None) -> Sample:
    """The registry's counters now (and the outbox's job counts, read by the caller off the loop)."""
    sample = Sample(t=time.time())
    for family in registry.collect():
        for s in family.samples:
            _note(sample, s.name, s.labels, s.value)
    if outbox_counts is not None:
        sample.outbox_waiting = outbox_counts.get("queued", 0) + outbox_counts.get("delivering", 0)
        sample.outbox_finished = outbox_counts.get("done", 0) + outbox_counts.get("failed", 0)
    return sample


def _note(sample: Sample, name: str, labels: dict[str, str], value: float) -> None:
    if name == "edgesplit_served_total":
        sample.served[labels["tier"]] = value
    elif name == "edgesplit_routed_total" and labels["route"] != "edge":
        sample.escalations[labels["rule"]] = sample.escalations.get(labels["rule"], 0) + value
    elif name == "edgesplit_redacted_total":
        sample.redactions[labels["type"]] = value
    elif name == "edgesplit_time_to_first_token_seconds_bucket":
        sample.ttft.setdefault(labels["route"], []).append((float(labels["le"]), value))
    elif name == "edgesplit_inter_token_seconds_bucket":
        sample.token.setdefault(labels["route"], []).append((float(labels["le"]), value))
    elif name == "edgesplit_link_rtt_seconds":
        sample.rtt_ms = value * 1000 if value > 0 else None
    elif name == "edgesplit_link_bandwidth_mbps":
        sample.bandwidth_mbps = value if value > 0 else None
    elif name == "edgesplit_link_state" and value == 1:
        sample.link_state = _LINK_STATES[labels["edgesplit_link_state"]]


def quantile(q: float, buckets: Iterable[tuple[float, float]]) -> float | None:
    """The ``q`` quantile of a histogram from cumulative (upper bound, count) pairs, interpolated
    linearly inside the bucket (Prometheus' ``histogram_quantile``); None without observations."""
    ordered = sorted(buckets)
    if not ordered or ordered[-1][1] <= 0:
        return None
    rank = q * ordered[-1][1]
    lower_bound, lower_count = 0.0, 0.0
    for bound, count in ordered:
        if count >= rank:
            if math.isinf(bound):
                return lower_bound  # above the largest finite bucket: its bound is all we know
            inside = count - lower_count
            return lower_bound + (bound - lower_bound) * ((rank - lower_count) / inside if inside else 1.0)
        lower_bound, lower_count = bound, count
    return lower_bound


def _delta(new: Buckets, old: Buckets, route: str) -> list[tuple[float, float]]:
    before = dict(old.get(route, []))
    return [(bound, count - before.get(bound, 0.0)) for bound, count in new.get(route, [])]


def _ms(value: float | None) -> float | None:
    return None if value is None else round(value * 1000, 3)


class StatsHistory:
    """The last ``points`` samples of one node, taken every ``interval_s`` seconds by :meth:`run`."""

    def __init__(self, node: Node, interval_s: float = 2.0, points: int = 300, window_s: float = 30.0) -> None:
        self.node = node
        self.interval_s = interval_s
        self.window = max(1, round(window_s / interval_s))  # samples the percentiles look back over
        self.samples: deque[Sample] = deque(maxlen=points + 1)
        self._task: asyncio.Task[None] | None = None

    async def read(self) -> Sample:
        """The counters now (the outbox's job counts off the loop)."""
        outbox = self.node.outbox
        counts = await asyncio.to_thread(outbox.counts) if outbox is not None else None
        return read_sample(self.node.metrics.registry, counts)

    async def take(self) -> Sample:
        """Read the counters now and keep the sample."""
        sample = await self.read()
        self.samples.append(sample)
        return sample

    def start(self) -> None:
        self._task = asyncio.create_task(self.run(), name="edgesplit-stats")

    async def stop(self) -> None:
        await stop_task(self._task)

    async def run(self) -> None:
        while True:
            await self.take()
            await asyncio.sleep(self.interval_s)

    async def payload(self) -> dict[str, Any]:
        """``GET /v1/stats``: the series the dashboard draws (see the module docstring)."""
        # the newest point is now, whatever the sampling phase; it is not kept, so the history stays
        # one sample per interval however often the page polls
        samples = [*self.samples, await self.read()]
        shown, last = samples[1:], samples[-1]  # each point shown is a change since the one before
        return {
            "interval_s": self.interval_s,
            "window_s": self.window * self.interval_s,
            "t": [round(s.t, 3) for s in shown],
            "served": self._served(samples),
            "routes": self._routes(samples),
            "link": {
                "rtt_ms": [s.rtt_ms for s in shown],
                "bandwidth_mbps": [s.bandwidth_mbps for s in shown],
                "state": [s.link_state for s in shown],
            },
            "outbox": {
                "waiting": [s.outbox_waiting for s in shown],
                "finished": self._finished(samples),
            },
            "escalations": {rule: int(n) for rule, n in sorted(last.escalations.items())},
            "redactions": {kind: int(n) for kind, n in sorted(last.redactions.items())},
            "node": self.node.describe(),
        }

    def _served(self, samples: list[Sample]) -> dict[str, list[float]]:
        tiers = sorted({tier for s in samples for tier in s.served})
        pairs = list(itertools.pairwise(samples))
        return {tier: [new.served.get(tier, 0.0) - old.served.get(tier, 0.0) for old, new in pairs] for tier in tiers}

    def _finished(self, samples: list[Sample]) -> list[int | None]:
        finished: list[int | None] = []
        for i in range(1, len(samples)):
            new, old = samples[i].outbox_finished, samples[i - 1].outbox_finished
            finished.append(None if new is None or old is None else new - old)
        return finished

    def _routes(self, samples: list[Sample]) -> dict[str, dict[str, list[float | None]]]:
        routes = sorted({r for s in samples for r in s.ttft})
        out: dict[str, dict[str, list[float | None]]] = {}
        for route in routes:
            series: dict[str, list[float | None]] = {k: [] for k in ("ttft_p50_ms", "ttft_p95_ms", "token_p50_ms",
                                                                     "token_p95_ms")}  # fmt: skip
            for i in range(1, len(samples)):
                old = samples[max(0, i - self.window)]
                ttft, token = _delta(samples[i].ttft, old.ttft, route), _delta(samples[i].token, old.token, route)
                series["ttft_p50_ms"].append(_ms(quantile(0.5, ttft)))
                series["ttft_p95_ms"].append(_ms(quantile(0.95, ttft)))
                series["token_p50_ms"].append(_ms(quantile(0.5, token)))
                series["token_p95_ms"].append(_ms(quantile(0.95, token)))
            out[route] = series
        return out
