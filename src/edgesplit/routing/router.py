"""Routing v1: which tier a request goes to, and the confidence cascade.

The client may force a route three ways, checked in this order: the ``x-edgesplit-route``
header, the ``edgesplit.route`` body field, the model alias (``edgesplit/edge``,
``edgesplit/cloud``, ``edgesplit/auto``). Contradicting forced routes are a 400.

``auto`` answers on the edge and escalates when the edge answer's confidence, its mean
token log-probability, is under the configured threshold. A non-streamed request is judged
on the whole edge answer; a streamed one on its first ``probe_tokens`` tokens, which are
held back until the decision, so the client sees either the edge stream or the cloud
stream, never a mix.
"""

from __future__ import annotations

from dataclasses import dataclass

from edgesplit.errors import InvalidRequest, UnknownModel
from edgesplit.schemas import RouteName

__all__ = ["EDGE_ALIASES", "CascadePolicy", "CascadeVerdict", "resolve_route"]

EDGE_ALIASES: dict[str, RouteName] = {
    "edgesplit/auto": "auto",
    "edgesplit/edge": "edge",
    "edgesplit/cloud": "cloud",
    "edgesplit/split": "split",
    "edgesplit/speculative": "speculative",
    "auto": "auto",
    "default": "auto",
}
_ROUTES: tuple[RouteName, ...] = ("edge", "cloud", "split", "speculative", "auto")


def resolve_route(model: str, local_model: str, header: str | None, body_route: RouteName | None) -> RouteName:
    """The route a request asks for; raises UnknownModel / InvalidRequest on bad input."""
    if model == local_model:
        by_model: RouteName = "edge"
    elif model in EDGE_ALIASES:
        by_model = EDGE_ALIASES[model]
    else:
        served = ", ".join([*EDGE_ALIASES, local_model])
        raise UnknownModel(
            f"model {model!r} is not served here; use one of: {served}", param="model", code="model_not_found"
        )
    by_header: RouteName | None = None
    if header is not None:
        value = header.strip().lower()
        if value not in _ROUTES:
            raise InvalidRequest(
                f"x-edgesplit-route must be one of {', '.join(_ROUTES)}, got {header!r}", param="x-edgesplit-route"
            )
        by_header = value  # type: ignore[assignment,unused-ignore]
    forced = {r for r in (by_header, body_route, by_model) if r not in (None, "auto")}
    if len(forced) > 1:
        raise InvalidRequest(f"conflicting routes requested: {', '.join(sorted(forced))}", param="edgesplit.route")
    return forced.pop() if forced else "auto"  # type: ignore[return-value,unused-ignore]


@dataclass(frozen=True)
class CascadeVerdict:
    escalate: bool
    reason: str
    confidence: float | None


@dataclass(frozen=True)
class CascadePolicy:
    """Escalate when the edge answer's mean token log-probability is under ``threshold``."""

    threshold: float
    probe_tokens: int

    def judge(self, confidence: float | None) -> CascadeVerdict:
        if confidence is None:
            return CascadeVerdict(True, "edge answer is empty", None)
        if confidence < self.threshold:
            return CascadeVerdict(True, f"edge confidence {confidence:.3f} < threshold {self.threshold:g}", confidence)
        return CascadeVerdict(False, f"edge confidence {confidence:.3f} >= threshold {self.threshold:g}", confidence)
