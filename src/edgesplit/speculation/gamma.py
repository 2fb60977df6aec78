"""How many tokens to draft per round, from the measured acceptance rate, round trip and compute costs.

With a per-token acceptance rate a, a draft of g tokens yields E(g) = (1 - a^(g+1)) / (1 - a)
tokens per round (the accepted ones plus the verifier's own). A round costs g draft steps on
the edge, one round trip, and the verifier's compute. The verifier's compute is modelled as
``passes * pass_ms + evaluated * token_ms``: in ``batched`` mode one pass evaluates the whole
block (1 + g tokens), in ``exact`` mode each kept token is its own pass. A block pass is much
cheaper than that many single-token passes, but not free: on 2 CPU cores Qwen2.5-Coder-1.5B
takes about 81 ms for one token and 215 ms for a block of five. Both coefficients are fitted
online by recursive least squares with forgetting, from each round's reported
``verify_ms``, ``passes`` and ``evaluated`` (the first round, which evaluates the prompt, is left
out: prefill is cheaper per token than decoding).

The choice: among draft lengths whose predicted tokens per second is at least ``rate_slack`` of
the fastest, the one with the least verifier compute per answer token. Drafting at the edge is
for cloud capacity, so a few per cent of wall-clock time buy a block that the cloud checks in
one pass; ``rate_slack = 1`` asks for the fastest only. Every input is re-estimated after each
round (exponentially weighted), so the choice follows a prompt that gets harder or a link that
slows down.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

__all__ = ["GammaController", "VerifyCost", "expected_tokens"]


def expected_tokens(alpha: float, gamma: int) -> float:
    """Tokens per round (accepted draft + the verifier's own) at per-token acceptance ``alpha``."""
    if alpha >= 0.999:
        return float(gamma + 1)
    return (1 - alpha ** (gamma + 1)) / (1 - alpha)


@dataclass
class VerifyCost:
    """``verify_ms ~ passes * pass_ms + evaluated * token_ms``, fitted by recursive least squares."""

    pass_ms: float = 40.0
    token_ms: float = 30.0
    forget: float = 0.9  # weight of the past in each update
    _p: np.ndarray = field(default_factory=lambda: np.eye(2) * 1e3)  # the estimate's covariance

    def ms(self, passes: float, evaluated: float) -> float:
        return passes * self.pass_ms + evaluated * self.token_ms

    def update(self, passes: int, evaluated: int, verify_ms: float) -> None:
        x = np.array([float(passes), float(evaluated)])
        theta = np.array([self.pass_ms, self.token_ms])
        px = self._p @ x
        gain = px / (self.forget + x @ px)
        theta = np.maximum(theta + gain * (verify_ms - x @ theta), 0.0)  # a cost is never negative
        self._p = (self._p - np.outer(gain, px)) / self.forget
        self.pass_ms, self.token_ms = float(theta[0]), float(theta[1])


@dataclass
class GammaController:
    max_gamma: int = 8
    min_gamma: int = 1
    batched: bool = False
    alpha: float = 0.6  # prior per-token acceptance
    draft_ms: float = 8.0  # edge time per draft token
    rtt_ms: float = 10.0  # round trip, without the verifier's compute
    rate_slack: float = 0.9  # least cloud compute among draft lengths at least this share of the fastest
    keep: float = 0.7  # weight of the previous estimate in each update
    cost: VerifyCost = field(default_factory=VerifyCost)
    _kept: float = 3.0  # decayed counts behind alpha: accepted tokens, rejections
    _rejected: float = 2.0

    def verify_ms(self, gamma: int) -> float:
        """Predicted verifier compute of one round."""
        kept = expected_tokens(self.alpha, gamma)
        if self.batched:
            return self.cost.ms(1, 1 + gamma)
        return self.cost.ms(kept, kept)

    def round_ms(self, gamma: int) -> float:
        return gamma * self.draft_ms + self.rtt_ms + self.verify_ms(gamma)

    def rate(self, gamma: int) -> float:
        """Predicted tokens per second at draft length ``gamma``."""
        return 1000 * expected_tokens(self.alpha, gamma) / self.round_ms(gamma)

    def cloud_ms_per_token(self, gamma: int) -> float:
        """Predicted verifier compute per answer token at draft length ``gamma``."""
        return self.verify_ms(gamma) / expected_tokens(self.alpha, gamma)

    def choose(self) -> int:
        gammas = range(self.min_gamma, self.max_gamma + 1)
        fastest = max(self.rate(g) for g in gammas)
        near = [g for g in gammas if self.rate(g) >= self.rate_slack * fastest - 1e-9]
        return min(near, key=lambda g: (self.cloud_ms_per_token(g), -self.rate(g)))

    @property
    def token_ms(self) -> float:
        """The fitted verifier cost per evaluated token."""
        return self.cost.token_ms

    def update(
        self,
        drafted: int,
        accepted: int,
        draft_ms: float,
        rtt_ms: float,
        verify_ms: float,
        evaluated: int,
        passes: int | None = None,
    ) -> None:
        """Fold one round's measurements in (``passes``: the verifier's forward passes, if it said)."""
        if drafted > 0:
            self._kept = self.keep * self._kept + accepted
            self._rejected = self.keep * self._rejected + (1 if accepted < drafted else 0)
            self.alpha = min(0.99, self._kept / (self._kept + self._rejected))
            self.draft_ms = self._blend(self.draft_ms, draft_ms / drafted)
        self.rtt_ms = self._blend(self.rtt_ms, max(0.0, rtt_ms))
        if 0 < evaluated <= 2 * (self.max_gamma + 1):  # a larger count is the prompt's prefill
            self.cost.update(passes if passes is not None else (1 if self.batched else evaluated), evaluated, verify_ms)

    def _blend(self, old: float, new: float) -> float:
        return self.keep * old + (1 - self.keep) * new
