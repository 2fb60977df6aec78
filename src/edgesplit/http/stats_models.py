"""What ``GET /v1/stats`` answers, as pydantic models: the schema the OpenAPI spec publishes.

Series hold one value per interval, oldest first, aligned with ``t``; ``null`` where there is
nothing to say (a percentile with no request, an RTT while the upstream is down).
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

__all__ = ["LinkSeries", "NodeInfo", "OutboxSeries", "Percentiles", "RouteSeries", "Stats", "Summary", "UpstreamInfo"]


class Percentiles(BaseModel):
    """p50 and p95 in ms over the trailing window, interpolated inside the histogram's buckets as
    Prometheus' ``histogram_quantile`` does. Where the rank falls past the largest finite bucket,
    the value is that bucket's bound and ``*_over`` is true: all that is known is "more than"."""

    p50_ms: list[float | None]
    p95_ms: list[float | None]
    p50_over: list[bool]
    p95_over: list[bool]
    count: list[int]  # observations in the window behind each point


class RouteSeries(BaseModel):
    ttft: Percentiles  # time to first token
    token: Percentiles  # time between tokens


class LinkSeries(BaseModel):
    """The upstream link; RTT and bandwidth are ``null`` while the breaker is open (the upstream down)."""

    rtt_ms: list[float | None]
    bandwidth_mbps: list[float | None]
    state: list[int | None]  # breaker: 0 closed (up), 1 half-open (probing), 2 open (down); null: no upstream
    down: list[bool]


class OutboxSeries(BaseModel):
    """Jobs by kind (``chat``, ``text``, ``feedback``): waiting now, and finished in each interval."""

    waiting: dict[str, list[int | None]]
    finished: dict[str, list[int | None]]


class Summary(BaseModel):
    """The tiles: rates over the percentile window, counts since the node started, gauges now."""

    uptime_s: float
    requests: int  # API requests since start (not /v1/stats, /metrics, /healthz or the dashboard)
    request_rate_rps: float  # over the window
    errors: int  # answers with a 5xx status since start
    fallbacks: int  # answers given on this tier because the upstream failed, since start
    tokens_per_s: float  # completion tokens generated here, over the window
    queue_depth: int  # requests waiting for a model now
    in_flight: int  # generations holding a model now
    personal_kept: int  # requests with personal data answered here (none of it left), since start


class UpstreamInfo(BaseModel):
    name: str
    kind: str
    scope: str
    continues: str
    priority: int
    weight: float
    state: str  # the breaker: closed, half-open, open
    in_flight: int
    rtt_ms: float | None  # null while the breaker is open


class NodeInfo(BaseModel):
    """What runs here: the edge tiers fill ``router`` … ``sync``; the cloud ``repository``."""

    role: str
    tier: str
    model: str
    upstream: bool
    link: str | None = None
    upstreams: list[UpstreamInfo] = []
    router: str | None = None
    policy: str | None = None
    bundle: int | None = None
    sync: dict[str, Any] | None = None  # edge/sync_status.py: versions, freshness, expiry, last error
    repository: dict[str, Any] | None = None  # the cloud's TUF repository: versions and expiry


class Stats(BaseModel):
    interval_s: float
    window_s: float  # the percentiles' and rates' trailing window
    history_s: float  # how far back the series go
    t: list[float]  # unix time of each point
    summary: Summary
    served: dict[str, list[float]]  # answers per interval by the tier that served them
    routes: dict[str, RouteSeries]  # this node's routes: edge (its own model), cloud, split, speculative
    top_bucket_ms: dict[str, float] = Field(description="the largest finite bucket: ttft and token")
    link: LinkSeries
    outbox: OutboxSeries
    escalations: dict[str, int]  # answers sent up, by routing rule, since start
    redactions: dict[str, int]  # values redacted from text that left, by entity type (never a value)
    node: NodeInfo
