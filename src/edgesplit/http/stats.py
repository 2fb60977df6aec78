"""The node's recent history for the dashboard: ``GET /v1/stats``, sampled from its own metrics.

Every ``interval_s`` seconds :class:`StatsHistory` reads the node's Prometheus registry (no second
set of counters to keep in step) and the outbox, and keeps the last ``points`` samples. The
endpoint turns them into series, one value per interval, oldest first; every field is described
by the models in :mod:`edgesplit.http.stats_models`, which the OpenAPI spec publishes.
Percentiles come from the histogram buckets over the trailing ``window_s``, interpolated as
Prometheus' ``histogram_quantile`` does, and say so when the rank lies past the top bucket.
"""

from __future__ import annotations

import asyncio
import itertools
import math
import time
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from edgesplit.background import stop_task
from edgesplit.http.stats_models import LinkSeries, NodeInfo, OutboxSeries, Percentiles, RouteSeries, Stats, Summary

if TYPE_CHECKING:
    from prometheus_client import CollectorRegistry

    from edgesplit.http.node import Node

__all__ = ["Sample", "StatsHistory", "quantile", "quantile_bound"]

_LINK_STATES = {"closed": 0, "half-open": 1, "open": 2}
_OPEN = 2
_NOT_API = ("/v1/stats", "/metrics", "/healthz", "/dashboard")  # what the dashboard and scrapers ask
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
    requests: float = 0.0
    errors: float = 0.0
    fallbacks: float = 0.0
    tokens: float = 0.0
    personal_kept: float = 0.0
    queue_depth: float = 0.0
    in_flight: float = 0.0
    rtt_ms: float | None = None
    bandwidth_mbps: float | None = None
    link_state: int | None = None
    outbox_waiting: dict[str, int] | None = None  # by job kind
    outbox_finished: dict[str, int] | None = None


def read_sample(registry: CollectorRegistry, outbox_counts: dict[str, dict[str, int]] | None) -> Sample:
    """The registry's counters now (and the outbox's job counts by kind, read by the caller off the loop)."""
    sample = Sample(t=time.time())
    for family in registry.collect():
        for s in family.samples:
            _note(sample, s.name, s.labels, s.value)
    if outbox_counts is not None:
        sample.outbox_waiting = {k: c.get("queued", 0) + c.get("delivering", 0) for k, c in outbox_counts.items()}
        sample.outbox_finished = {k: c.get("done", 0) + c.get("failed", 0) for k, c in outbox_counts.items()}
    return sample


def _note(sample: Sample, name: str, labels: dict[str, str], value: float) -> None:
    if name == "edgesplit_served_total":
        sample.served[labels["tier"]] = value
    elif name == "edgesplit_routed_total":
        if labels["rule"] == "fallback":
            sample.fallbacks += value
        if labels["route"] != "edge":
            sample.escalations[labels["rule"]] = sample.escalations.get(labels["rule"], 0) + value
    elif name == "edgesplit_requests_total" and not labels["path"].startswith(_NOT_API):
        sample.requests += value
        sample.errors += value if labels["status"].startswith("5") else 0.0
    elif name == "edgesplit_tokens_generated_total":
        sample.tokens += value
    elif name == "edgesplit_personal_kept_total":
        sample.personal_kept = value
    elif name == "edgesplit_queue_depth":
        sample.queue_depth += value
    elif name == "edgesplit_model_running":
        sample.in_flight += value
    elif name == "edgesplit_redacted_total":
        sample.redactions[labels["type"]] = value
    elif name == "edgesplit_time_to_first_token_seconds_bucket":
        sample.ttft.setdefault(labels["route"], []).append((float(labels["le"]), value))
    elif name == "edgesplit_inter_token_seconds_bucket":
        sample.token.setdefault(labels["route"], []).append((float(labels["le"]), value))
    else:
        _note_link(sample, name, labels, value)


def _note_link(sample: Sample, name: str, labels: dict[str, str], value: float) -> None:
    if name == "edgesplit_link_rtt_seconds":
        sample.rtt_ms = value * 1000 if value > 0 else None
    elif name == "edgesplit_link_bandwidth_mbps":
        sample.bandwidth_mbps = value if value > 0 else None
    elif name == "edgesplit_link_state" and value == 1:
        sample.link_state = _LINK_STATES[labels["edgesplit_link_state"]]


def quantile_bound(q: float, buckets: Iterable[tuple[float, float]]) -> tuple[float | None, bool]:
    """The ``q`` quantile of a histogram from cumulative (upper bound, count) pairs, interpolated
    linearly inside the bucket (Prometheus' ``histogram_quantile``), and whether the rank lies past
    the largest finite bound (then the value is that bound: all that is known is "more than")."""
    ordered = sorted(buckets)
    if not ordered or ordered[-1][1] <= 0:
        return None, False
    rank = q * ordered[-1][1]
    lower_bound, lower_count = 0.0, 0.0
    for bound, count in ordered:
        if count >= rank:
            if math.isinf(bound):
                return lower_bound, True
            inside = count - lower_count
            return lower_bound + (bound - lower_bound) * ((rank - lower_count) / inside if inside else 1.0), False
        lower_bound, lower_count = bound, count
    return lower_bound, True


def quantile(q: float, buckets: Iterable[tuple[float, float]]) -> float | None:
    """:func:`quantile_bound`'s value alone; None without observations."""
    return quantile_bound(q, buckets)[0]


def _delta(new: Buckets, old: Buckets, route: str) -> list[tuple[float, float]]:
    before = dict(old.get(route, []))
    return [(bound, count - before.get(bound, 0.0)) for bound, count in new.get(route, [])]


def _ms(value: float | None) -> float | None:
    return None if value is None else round(value * 1000, 3)


def _percentiles(windows: list[list[tuple[float, float]]]) -> Percentiles:
    """p50 and p95 of each window's bucket counts."""
    p50 = [quantile_bound(0.5, w) for w in windows]
    p95 = [quantile_bound(0.95, w) for w in windows]
    return Percentiles(
        p50_ms=[_ms(v) for v, _ in p50], p95_ms=[_ms(v) for v, _ in p95],
        p50_over=[over for _, over in p50], p95_over=[over for _, over in p95],
        count=[int(max((c for _, c in w), default=0)) for w in windows],
    )  # fmt: skip


def _top_finite_ms(samples: list[Sample], which: str) -> float:
    bounds = [b for s in samples for series in getattr(s, which).values() for b, _ in series if not math.isinf(b)]
    return _ms(max(bounds, default=0.0)) or 0.0


class StatsHistory:
    """The last ``points`` samples of one node, taken every ``interval_s`` seconds by :meth:`run`."""

    def __init__(self, node: Node, interval_s: float = 2.0, points: int = 300, window_s: float = 30.0) -> None:
        self.node = node
        self.interval_s = interval_s
        self.points = points
        self.window = max(1, round(window_s / interval_s))  # samples the percentiles look back over
        self.samples: deque[Sample] = deque(maxlen=points + 1)
        self.started = time.time()
        self._task: asyncio.Task[None] | None = None

    async def read(self) -> Sample:
        """The counters now (the outbox's job counts off the loop)."""
        outbox = self.node.outbox
        counts = await asyncio.to_thread(outbox.counts_by_kind) if outbox is not None else None
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

    async def payload(self) -> Stats:
        """``GET /v1/stats``: the series the dashboard draws (see :mod:`edgesplit.http.stats_models`)."""
        # the newest point is now, whatever the sampling phase; it is not kept, so the history stays
        # one sample per interval however often the page polls
        samples = [*self.samples, await self.read()]
        shown, last = samples[1:], samples[-1]  # each point shown is a change since the one before
        down = [s.link_state == _OPEN for s in shown]
        return Stats(
            interval_s=self.interval_s,
            window_s=self.window * self.interval_s,
            history_s=self.points * self.interval_s,
            t=[round(s.t, 3) for s in shown],
            summary=self._summary(samples),
            served=self._served(samples),
            routes=self._routes(samples),
            top_bucket_ms={"ttft": _top_finite_ms(samples, "ttft"), "token": _top_finite_ms(samples, "token")},
            link=LinkSeries(
                rtt_ms=[None if d else s.rtt_ms for s, d in zip(shown, down, strict=True)],
                bandwidth_mbps=[None if d else s.bandwidth_mbps for s, d in zip(shown, down, strict=True)],
                state=[s.link_state for s in shown],
                down=down,
            ),
            outbox=OutboxSeries(waiting=self._outbox_waiting(shown), finished=self._finished(samples)),
            escalations={rule: int(n) for rule, n in sorted(last.escalations.items())},
            redactions={kind: int(n) for kind, n in sorted(last.redactions.items())},
            node=NodeInfo.model_validate(self.node.describe()),
        )

    def _summary(self, samples: list[Sample]) -> Summary:
        last, old = samples[-1], samples[max(0, len(samples) - 1 - self.window)]
        span_s = last.t - old.t
        return Summary(
            uptime_s=round(last.t - self.started, 1),
            requests=int(last.requests),
            request_rate_rps=round((last.requests - old.requests) / span_s, 3) if span_s > 0 else 0.0,
            errors=int(last.errors),
            fallbacks=int(last.fallbacks),
            tokens_per_s=round((last.tokens - old.tokens) / span_s, 2) if span_s > 0 else 0.0,
            queue_depth=int(last.queue_depth),
            in_flight=int(last.in_flight),
            personal_kept=int(last.personal_kept),
        )

    def _served(self, samples: list[Sample]) -> dict[str, list[float]]:
        tiers = sorted({tier for s in samples for tier in s.served})
        pairs = list(itertools.pairwise(samples))
        return {tier: [new.served.get(tier, 0.0) - old.served.get(tier, 0.0) for old, new in pairs] for tier in tiers}

    def _outbox_waiting(self, shown: list[Sample]) -> dict[str, list[int | None]]:
        kinds = sorted({k for s in shown for k in s.outbox_waiting or {}})
        return {k: [None if s.outbox_waiting is None else s.outbox_waiting.get(k, 0) for s in shown] for k in kinds}

    def _finished(self, samples: list[Sample]) -> dict[str, list[int | None]]:
        kinds = sorted({k for s in samples for k in s.outbox_finished or {}})
        finished: dict[str, list[int | None]] = {k: [] for k in kinds}
        for old, new in itertools.pairwise(samples):
            before, now = old.outbox_finished, new.outbox_finished
            for k in kinds:
                finished[k].append(None if before is None or now is None else now.get(k, 0) - before.get(k, 0))
        return finished

    def _routes(self, samples: list[Sample]) -> dict[str, RouteSeries]:
        routes = sorted({r for s in samples for r in s.ttft})
        out: dict[str, RouteSeries] = {}
        olds = [samples[max(0, i - self.window)] for i in range(1, len(samples))]  # each point's window start
        news = samples[1:]
        for route in routes:
            out[route] = RouteSeries(
                ttft=_percentiles([_delta(n.ttft, o.ttft, route) for n, o in zip(news, olds, strict=True)]),
                token=_percentiles([_delta(n.token, o.token, route) for n, o in zip(news, olds, strict=True)]),
            )
        return out
