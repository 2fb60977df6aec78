"""Prometheus metrics for one node, in a registry of its own (several nodes may share a process)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client import Enum as EnumMetric

__all__ = ["NodeMetrics"]

_LATENCY_BUCKETS_S = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)
_TOKEN_BUCKETS_S = (0.001, 0.0025, 0.005, 0.01, 0.02, 0.035, 0.05, 0.075, 0.1, 0.2, 0.5, 1.0)


class NodeMetrics:
    """The counters and histograms every node exports on ``/metrics``."""

    def __init__(self, role: str) -> None:
        self.registry = CollectorRegistry()
        reg = self.registry
        self.requests = Counter(
            "edgesplit_requests", "HTTP requests by path and status", ["path", "status"], registry=reg
        )
        self.routed = Counter(
            "edgesplit_routed", "Generations by serving route and routing rule", ["route", "rule"], registry=reg
        )
        self.ttft = Histogram(
            "edgesplit_time_to_first_token_seconds",
            "Time to first token",
            ["route"],
            buckets=_LATENCY_BUCKETS_S,
            registry=reg,
        )
        self.token_latency = Histogram(
            "edgesplit_inter_token_seconds", "Time between tokens", ["route"], buckets=_TOKEN_BUCKETS_S, registry=reg
        )
        self.tokens = Counter("edgesplit_tokens_generated", "Completion tokens generated", ["route"], registry=reg)
        self.served = Counter(
            "edgesplit_served",
            "Answers by the tier that served them (split, speculative: both)",
            ["tier"],
            registry=reg,
        )
        self.redacted = Counter(
            "edgesplit_redacted", "Values redacted from text that left this tier, by type", ["type"], registry=reg
        )
        self.personal_kept = Counter(
            "edgesplit_personal_kept",
            "Requests with personal data (found, or marked so by policy) answered on this tier: none of it left",
            registry=reg,
        )
        self.queue_depth = Gauge("edgesplit_queue_depth", "Requests waiting per model", ["model"], registry=reg)
        self.model_running = Gauge(
            "edgesplit_model_running", "Generations holding each model's slot (0 or 1)", ["model"], registry=reg
        )
        self.client_gone = Counter(
            "edgesplit_client_gone", "Requests whose client left before the answer: their work was cancelled",
            registry=reg,
        )  # fmt: skip
        self.upstream_errors = Counter("edgesplit_upstream_errors", "Upstream failures by kind", ["kind"], registry=reg)
        self.rate_limited = Counter("edgesplit_rate_limited", "Requests refused by the per-client limit", registry=reg)
        self.link_state = EnumMetric(
            "edgesplit_link_state", "Upstream circuit breaker", states=["closed", "half-open", "open"], registry=reg
        )
        self.upstream_calls = Counter(
            "edgesplit_upstream_calls",
            "Full generations sent to each upstream: ok, failed before the first token, broke mid-stream",
            ["upstream", "outcome"],
            registry=reg,
        )
        self.upstream_state = EnumMetric(
            "edgesplit_upstream_state",
            "Each upstream's circuit breaker",
            ["upstream"],
            states=["closed", "half-open", "open"],
            registry=reg,
        )
        self.upstream_in_flight = Gauge(
            "edgesplit_upstream_in_flight", "Generations in flight per upstream", ["upstream"], registry=reg
        )
        self.upstream_rtt = Gauge(
            "edgesplit_upstream_rtt_seconds", "EWMA of round trips per upstream", ["upstream"], registry=reg
        )
        self.link_rtt = Gauge("edgesplit_link_rtt_seconds", "EWMA of upstream round trips", registry=reg)
        self.link_bandwidth = Gauge("edgesplit_link_bandwidth_mbps", "EWMA of probed upstream bandwidth", registry=reg)
        self.speculative = Counter(
            "edgesplit_speculative",
            "Speculative decoding: verify calls (uploads), drafted and accepted tokens, answer tokens",
            ["what"],
            registry=reg,
        )
        self.sync_version = Gauge(
            "edgesplit_sync_version", "Bundle versions: current, previous, pending (0 = none)", ["which"], registry=reg
        )
        self.sync_last_check = Gauge("edgesplit_sync_last_check_timestamp_seconds", "Last pull", registry=reg)
        self.sync_rejected = Counter("edgesplit_sync_rejected", "Bundles refused, by reason", ["reason"], registry=reg)
        self.sync_bytes = Counter("edgesplit_sync_bytes", "Sync target bytes: wire, reused", ["kind"], registry=reg)
        self.sync_expiry = Gauge(
            "edgesplit_sync_metadata_expiry_seconds", "Seconds until each role's TUF metadata expires", ["role"],
            registry=reg,
        )  # fmt: skip
        self.sync_stale = Gauge(
            "edgesplit_sync_stale_seconds", "Seconds since the last verified-fresh timestamp", registry=reg
        )
        self.sync_stale_alarm = Gauge(
            "edgesplit_sync_stale_alarm", "1 when sync_stale_seconds is past sync_stale_alarm_s", registry=reg
        )
        self.info = Gauge("edgesplit_node_info", "Node role", ["role"], registry=reg)
        self.info.labels(role=role).set(1)

    def set_queue(self, model: str, waiting: int, running: int) -> None:
        self.queue_depth.labels(model=model).set(waiting)
        self.model_running.labels(model=model).set(running)

    def record_speculative(self, rounds: int, drafted: int, accepted: int, tokens: int) -> None:
        for what, value in (("uploads", rounds), ("drafted", drafted), ("accepted", accepted), ("tokens", tokens)):
            self.speculative.labels(what=what).inc(value)

    def render(self) -> bytes:
        return generate_latest(self.registry)
