"""UpstreamPool: the servers a tier may send work up to, each with its own breaker and health check.

A tier has one upstream (``upstream = "..."``) or several (``[[upstreams]]``, config.py). Each
is an :class:`Upstream`: its HTTP client, its :class:`~edgesplit.transport.link.LinkMonitor`
(so one failing server opens its own circuit, not the tier's), its prober and its in-flight
count. :meth:`UpstreamPool.ranked` orders them for one call: lower ``priority`` first (a device
lists its local tier at 0 and the cloud at 1, so the cloud is asked only when the local tier is
down), then, within a priority, by the strategy:

- ``weighted``: a weighted random order (each upstream's key is ``u ** (1 / weight)``);
- ``least-busy``: fewest generations in flight per unit of weight;
- ``latency``: lowest ``rtt * (in flight + 1) / weight``, from the prober's and the calls' own
  round trips; an upstream not measured yet goes first, so it gets measured.

The primary (the first ``edgesplit`` upstream) also carries split and speculative sessions,
the outbox, sync and the planner's probes: those need an edgesplit tier and one session home.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from edgesplit.config import Settings, UpstreamConfig
from edgesplit.metrics import NodeMetrics
from edgesplit.schemas import ContinueMode, UpstreamScope
from edgesplit.transport.link import BreakerState, LinkMonitor
from edgesplit.transport.probe import LinkProber
from edgesplit.transport.remote import RemoteBackend
from edgesplit.transport.tls import upstream_verify
from edgesplit.transport.upstream import UpstreamClient

__all__ = ["Strategy", "Upstream", "UpstreamPool", "upstream_pool"]

Strategy = Literal["weighted", "least-busy", "latency"]


@dataclass(eq=False)
class Upstream:
    """One server above this tier."""

    name: str  # the metrics label
    kind: Literal["edgesplit", "openai"]
    scope: UpstreamScope
    continues: ContinueMode
    client: UpstreamClient
    backend: RemoteBackend
    link: LinkMonitor
    weight: float = 1.0
    priority: int = 0
    prober: LinkProber | None = None
    retries: int = 0  # tries after a failure before the next upstream (config.UpstreamConfig.retries)
    in_flight: int = 0

    def cost(self, strategy: Strategy) -> float:
        """Lower is better; ``weighted`` orders by a random key instead."""
        if strategy == "least-busy":
            return self.in_flight / self.weight
        return (self.link.rtt_ms or 0.0) * (self.in_flight + 1) / self.weight


class UpstreamPool:
    """The tier's upstreams, the primary first."""

    def __init__(self, upstreams: Sequence[Upstream], strategy: Strategy, rng: random.Random | None = None) -> None:
        if not upstreams:
            raise ValueError("an upstream pool needs at least one upstream")
        self.upstreams = tuple(upstreams)
        self.strategy: Strategy = strategy
        self._rng = rng or random.Random()

    @property
    def primary(self) -> Upstream:
        return self.upstreams[0]

    def ranked(self, scopes: frozenset[UpstreamScope] = frozenset({"site", "cloud"})) -> list[Upstream]:
        """The upstreams in ``scopes``, in the order one call should try them."""
        eligible = [upstream for upstream in self.upstreams if upstream.scope in scopes]
        keys = {id(upstream): self._key(upstream) for upstream in eligible}
        return sorted(eligible, key=lambda upstream: (upstream.priority, keys[id(upstream)]))

    def _key(self, upstream: Upstream) -> tuple[float, float]:
        tie = self._rng.random()
        if self.strategy == "weighted":
            return (-(tie ** (1.0 / upstream.weight)), 0.0)
        return (upstream.cost(self.strategy), tie)

    def down_message(self) -> str:
        """Why no upstream was called: each circuit and when it is next probed."""
        parts = []
        for upstream in self.upstreams:
            snap = upstream.link.snapshot()
            parts.append(f"circuit {snap.state.value} for {upstream.name} after {snap.consecutive_failures}"
                         f" failures (next probe in {snap.retry_in_s:.1f} s)")  # fmt: skip
        return "no upstream available: " + "; ".join(parts)

    def describe(self) -> list[dict[str, object]]:
        """Each upstream's state, for the dashboard and ``/v1/stats``; no RTT while its breaker is
        open (the last one measured belongs to an upstream that is down), as the link series."""
        return [
            {"name": u.name, "kind": u.kind, "scope": u.scope, "continues": u.continues, "priority": u.priority,
             "weight": u.weight,
             "state": u.link.state.value, "in_flight": u.in_flight,
             "rtt_ms": None if u.link.rtt_ms is None or u.link.state is BreakerState.OPEN else round(u.link.rtt_ms, 1)}
            for u in self.upstreams
        ]  # fmt: skip

    def start(self) -> None:
        for upstream in self.upstreams:
            if upstream.prober is not None:
                upstream.prober.start()

    async def stop_probers(self) -> None:
        for upstream in self.upstreams:
            if upstream.prober is not None:
                await upstream.prober.stop()

    async def aclose(self) -> None:
        await self.stop_probers()
        for upstream in self.upstreams:
            await upstream.client.aclose()


def upstream_pool(settings: Settings, metrics: NodeMetrics) -> UpstreamPool | None:
    """The pool ``settings`` describe (None without an upstream), its breakers and gauges wired to ``metrics``."""
    entries = settings.upstream_entries()
    if not entries:
        return None
    upstreams = [_upstream(settings, entry, metrics, primary=index == 0) for index, entry in enumerate(entries)]
    return UpstreamPool(upstreams, settings.upstream_strategy)


def _upstream(settings: Settings, entry: UpstreamConfig, metrics: NodeMetrics, primary: bool) -> Upstream:
    name = entry.label()
    verify = upstream_verify(entry.ca or settings.upstream_ca)
    secret = settings.upstream_entry_secret(entry)
    client = UpstreamClient(entry.url, secret, settings.upstream_timeout_s, verify=verify)
    state = metrics.upstream_state.labels(upstream=name)

    def on_change(value: str) -> None:
        state.state(value)
        if primary:
            metrics.link_state.state(value)  # the tier's link, as before several upstreams

    link = LinkMonitor(
        failure_threshold=settings.link_failure_threshold,
        backoff_s=settings.link_backoff_s,
        max_backoff_s=settings.link_max_backoff_s,
        on_change=lambda breaker: on_change(breaker.value),
    )
    metrics.upstream_rtt.labels(upstream=name).set_function(lambda: (link.rtt_ms or 0.0) / 1000)
    prober = None
    if settings.link_probe_interval_s > 0:
        health = "/v1/models" if entry.kind == "openai" else None
        prober = LinkProber(link, client, settings.link_probe_interval_s, settings.link_probe_bytes, health)
    backend = RemoteBackend(client, entry.model or settings.upstream_model, entry.continue_mode())
    return Upstream(
        name,
        entry.kind,
        settings.upstream_entry_scope(entry),
        entry.continue_mode(),
        client,
        backend,
        link,
        weight=entry.weight,
        priority=entry.priority,
        prober=prober,
        retries=settings.upstream_retries if entry.retries is None else entry.retries,
    )
