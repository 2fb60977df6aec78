"""LinkMonitor: what the edge knows about its upstream link, and a circuit breaker over it.

The breaker is **closed** while calls succeed. After ``failure_threshold`` consecutive
failures it **opens**: calls are not attempted, so the edge answers at once instead of
waiting for a timeout. After a backoff it goes **half-open** and lets one call through as a
probe: success closes it, failure opens it again with the backoff doubled (capped, with
jitter). Every state change is logged and reported to ``on_change`` (metrics).
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum

__all__ = ["BreakerState", "LinkMonitor", "LinkSnapshot", "counts_against_link"]

log = logging.getLogger("edgesplit.link")


class BreakerState(StrEnum):
    CLOSED = "closed"
    HALF_OPEN = "half-open"
    OPEN = "open"


@dataclass(frozen=True)
class LinkSnapshot:
    state: BreakerState
    rtt_ms: float | None  # EWMA of round-trip samples (probes, time to first upstream event)
    bandwidth_mbps: float | None  # EWMA of probe downloads
    error_rate: float  # EWMA of failures, 0..1
    consecutive_failures: int
    retry_in_s: float  # until the next probe, when open


class LinkMonitor:
    """Tracks upstream health and decides whether a call may be attempted."""

    def __init__(
        self,
        failure_threshold: int = 3,
        backoff_s: float = 1.0,
        max_backoff_s: float = 60.0,
        ewma_alpha: float = 0.2,
        clock: Callable[[], float] = time.monotonic,
        on_change: Callable[[BreakerState], None] | None = None,
    ) -> None:
        self.failure_threshold = failure_threshold
        self.base_backoff_s = backoff_s
        self.max_backoff_s = max_backoff_s
        self.alpha = ewma_alpha
        self._clock = clock
        self._on_change = on_change
        self.state = BreakerState.CLOSED
        self.rtt_ms: float | None = None
        self.bandwidth_mbps: float | None = None
        self.error_rate = 0.0
        self.consecutive_failures = 0
        self._backoff_s = backoff_s
        self._reopen_at = 0.0
        self._probe_in_flight = False

    def allow(self) -> bool:
        """May a call go upstream now? In half-open state, only one probe at a time."""
        if self.state is BreakerState.OPEN:
            if self._clock() < self._reopen_at:
                return False
            self._set(BreakerState.HALF_OPEN)
        if self.state is BreakerState.HALF_OPEN:
            if self._probe_in_flight:
                return False
            self._probe_in_flight = True
        return True

    def cancel_probe(self) -> None:
        """A half-open probe slot was taken but no call was made: free it without a verdict."""
        self._probe_in_flight = False

    def record_outcome(self, status_code: int | None, elapsed_ms: float) -> None:
        """Feed the breaker one upstream outcome (``status_code`` None: no answer came).

        What counts against the link is :func:`counts_against_link`'s decision; any other answer,
        a 4xx about the request included, shows the link works and times a round trip."""
        if counts_against_link(status_code):
            self.record_failure()
        else:
            self.record_success(elapsed_ms)

    def record_success(self, rtt_ms: float) -> None:
        self.rtt_ms = _ewma(self.rtt_ms, rtt_ms, self.alpha)
        self.error_rate *= 1 - self.alpha
        self.consecutive_failures = 0
        self._probe_in_flight = False
        if self.state is not BreakerState.CLOSED:
            self._backoff_s = self.base_backoff_s
            self._set(BreakerState.CLOSED)

    def record_bandwidth(self, mbps: float) -> None:
        """A download measurement from a probe (megabits per second)."""
        self.bandwidth_mbps = _ewma(self.bandwidth_mbps, mbps, self.alpha)

    def record_failure(self) -> None:
        self.error_rate = (1 - self.alpha) * self.error_rate + self.alpha
        self.consecutive_failures += 1
        probe_failed = self.state is BreakerState.HALF_OPEN
        self._probe_in_flight = False
        if probe_failed:
            self._backoff_s = min(self._backoff_s * 2, self.max_backoff_s)
        if probe_failed or (self.state is BreakerState.CLOSED and self.consecutive_failures >= self.failure_threshold):
            self._reopen_at = self._clock() + self._backoff_s * random.uniform(0.8, 1.2)
            self._set(BreakerState.OPEN)

    def snapshot(self) -> LinkSnapshot:
        retry = max(0.0, self._reopen_at - self._clock()) if self.state is BreakerState.OPEN else 0.0
        return LinkSnapshot(
            self.state, self.rtt_ms, self.bandwidth_mbps, self.error_rate, self.consecutive_failures, retry
        )

    def _set(self, state: BreakerState) -> None:
        if state is self.state:
            return
        log.info(
            "upstream link %s -> %s (consecutive failures %d)", self.state.value, state.value, self.consecutive_failures
        )
        self.state = state
        if self._on_change is not None:
            self._on_change(state)


def counts_against_link(status_code: int | None) -> bool:
    """Does an upstream outcome say the link (or the tier behind it) is failing?

    ``status_code`` is the HTTP status the upstream answered, or None when no answer came
    (refused, reset, timed out, broken mid-stream). No answer and a 5xx count against the link.
    Any 4xx does not, 429 included: the upstream is there and says the request or its load is
    the problem. Whether to fall back or retry is the caller's decision; this one is the breaker's.
    Local errors (an over-long prompt, a full local queue, a client that left) are no outcome at all.
    """
    return status_code is None or status_code >= 500


def _ewma(current: float | None, sample: float, alpha: float) -> float:
    return sample if current is None else (1 - alpha) * current + alpha * sample
