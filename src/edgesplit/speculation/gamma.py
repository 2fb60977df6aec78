"""How many tokens to draft per round, from the measured acceptance rate, round trip and compute costs.

With a per-token acceptance rate a, a draft of g tokens yields E(g) = (1 - a^(g+1)) / (1 - a)
tokens per round (the accepted ones plus the verifier's own). A round costs g draft steps on
the edge, one round trip, and the verifier's compute for the tokens it evaluates: the whole
block in ``batched`` mode, the kept tokens one by one in ``exact`` mode. The controller picks
the g in [1, max] with the most tokens per second, re-estimating every input after each round
(exponentially weighted, so it follows a prompt that gets harder or a link that slows down).
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["GammaController", "expected_tokens"]


def expected_tokens(alpha: float, gamma: int) -> float:
    """Tokens per round (accepted draft + the verifier's own) at per-token acceptance ``alpha``."""
    if alpha >= 0.999:
        return float(gamma + 1)
    return (1 - alpha ** (gamma + 1)) / (1 - alpha)


@dataclass
class GammaController:
    max_gamma: int = 8
    min_gamma: int = 1
    batched: bool = False
    alpha: float = 0.6  # prior per-token acceptance
    draft_ms: float = 8.0  # edge time per draft token
    rtt_ms: float = 10.0  # round trip, without the verifier's compute
    token_ms: float = 30.0  # verifier compute per evaluated token
    keep: float = 0.7  # weight of the previous estimate in each update
    _kept: float = 3.0  # decayed counts behind alpha: accepted tokens, rejections
    _rejected: float = 2.0

    def round_ms(self, gamma: int) -> float:
        evaluated = 1 + gamma if self.batched else expected_tokens(self.alpha, gamma)
        return gamma * self.draft_ms + self.rtt_ms + evaluated * self.token_ms

    def rate(self, gamma: int) -> float:
        """Predicted tokens per second at draft length ``gamma``."""
        return 1000 * expected_tokens(self.alpha, gamma) / self.round_ms(gamma)

    def choose(self) -> int:
        return max(range(self.min_gamma, self.max_gamma + 1), key=self.rate)

    def update(
        self, drafted: int, accepted: int, draft_ms: float, rtt_ms: float, verify_ms: float, evaluated: int
    ) -> None:
        """Fold one round's measurements in."""
        if drafted > 0:
            self._kept = self.keep * self._kept + accepted
            self._rejected = self.keep * self._rejected + (1 if accepted < drafted else 0)
            self.alpha = min(0.99, self._kept / (self._kept + self._rejected))
            self.draft_ms = self._blend(self.draft_ms, draft_ms / drafted)
        self.rtt_ms = self._blend(self.rtt_ms, max(0.0, rtt_ms))
        if evaluated > 0:
            self.token_ms = self._blend(self.token_ms, verify_ms / evaluated)

    def _blend(self, old: float, new: float) -> float:
        return self.keep * old + (1 - self.keep) * new
