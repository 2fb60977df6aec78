"""Replanner: the edge keeps a current split plan and re-plans when the link changes.

Profiles are measured once (the edge's own, in a worker thread) or fetched (the upstream's);
after that every plan is arithmetic. Each time the LinkMonitor's round trip or bandwidth moves
by more than ``threshold`` (relative) since the last plan, the plan is recomputed and, when its
choice is a split, the SplitBackend's k and codec follow it.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from edgesplit.engine.profile import NodeProfile, profile_node
from edgesplit.models import locate_model
from edgesplit.planner.split import LinkEstimate, Objective, SplitPlan, fetch_profile, plan
from edgesplit.schemas import LinkInfo, PlanOption, SplitPlanInfo
from edgesplit.transport.link import LinkMonitor
from edgesplit.transport.upstream import UpstreamClient

__all__ = ["Replanner"]

log = logging.getLogger("edgesplit.planner")


class Replanner:
    def __init__(
        self,
        backend: Any,  # SplitBackend: model, model_name, k, codec
        link: LinkMonitor,
        client: UpstreamClient,
        objective: Objective = "fastest",
        latency_budget_ms: float | None = None,
        threshold: float = 0.2,
    ) -> None:
        self.backend = backend
        self.link = link
        self.client = client
        self.objective: Objective = objective
        self.latency_budget_ms = latency_budget_ms
        self.threshold = threshold
        self.current: SplitPlan | None = None
        self._planned_for: LinkEstimate | None = None
        self._profiles: tuple[NodeProfile, NodeProfile] | None = None

    def _moved(self, now: LinkEstimate) -> bool:
        last = self._planned_for
        if last is None:
            return True
        return any(
            abs(a - b) > self.threshold * max(b, 1e-6)
            for a, b in ((now.rtt_ms, last.rtt_ms), (now.bandwidth_mbps, last.bandwidth_mbps))
        )

    async def _ensure_profiles(self) -> tuple[NodeProfile, NodeProfile]:
        if self._profiles is None:
            path = str(locate_model(self.backend.model_name))
            # engine layers for split options, llama.cpp for the edge-only option, as on the cloud
            edge = await asyncio.to_thread(profile_node, self.backend.model_name, self.backend.model, path)
            cloud = await fetch_profile(self.client)
            self._profiles = (edge, cloud)
        return self._profiles

    async def maybe_replan(self) -> SplitPlan | None:
        """Re-plan if the link moved enough since the last plan; apply a split choice to the backend."""
        snap = self.link.snapshot()
        if snap.rtt_ms is None or snap.bandwidth_mbps is None:
            return self.current
        now = LinkEstimate(snap.rtt_ms, snap.bandwidth_mbps)
        if not self._moved(now):
            return self.current
        edge, cloud = await self._ensure_profiles()
        self.current = plan(edge, cloud, now, objective=self.objective, latency_budget_ms=self.latency_budget_ms)
        self._planned_for = now
        choice = self.current.choice
        if choice.k is not None and choice.codec is not None:
            self.backend.k, self.backend.codec = choice.k, choice.codec
        log.info("re-planned for %.1f ms / %.1f Mbit/s: %s", now.rtt_ms, now.bandwidth_mbps, choice.name)
        return self.current

    def describe(self) -> SplitPlanInfo:
        if self.current is None:
            return SplitPlanInfo(planned=False)
        best = sorted(self.current.options, key=lambda o: o.total_ms(self.current.answer_tokens))[:8]  # type: ignore[union-attr]
        link = self._planned_for
        return SplitPlanInfo(
            planned=True,
            objective=self.current.objective,
            link=LinkInfo(rtt_ms=link.rtt_ms, bandwidth_mbps=link.bandwidth_mbps) if link else None,
            choice=self.current.choice.name,
            split_k=self.backend.k,
            split_codec=self.backend.codec,
            options=[PlanOption(name=o.name, ttft_ms=o.ttft_ms, per_token_ms=o.per_token_ms,
                                cloud_ms_per_token=o.cloud_ms_per_token) for o in best],
        )  # fmt: skip
