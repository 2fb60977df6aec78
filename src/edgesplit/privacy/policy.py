"""Sensitivity policy: what may leave the edge, decided per request and by configured rules.

Actions, from loosest to strictest: ``allow`` (send as is), ``redact`` (the default: PII
becomes placeholders before anything leaves), ``site-only`` (may reach an on-premises upstream,
one configured with ``upstream_scope = "site"``, as is; never the cloud), ``local-only`` (never
leaves this tier: answered by its own model), ``refuse`` (4xx naming the rule). The request may ask for an action
(``x-edgesplit-privacy`` header or ``edgesplit.privacy``); a matching rule can only make it
stricter, never looser. A future split-inference path must treat hidden states as raw text
under this policy: ``redact`` cannot apply to them, so only ``allow`` lets them leave.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from edgesplit.privacy.detectors import Entity
from edgesplit.schemas import PRIVACY_ACTIONS, PrivacyAction

__all__ = ["ACTIONS", "PolicyDecision", "PolicyRule", "PrivacyAction", "PrivacyPolicy", "stricter"]

ACTIONS = PRIVACY_ACTIONS


def stricter(a: PrivacyAction, b: PrivacyAction) -> PrivacyAction:
    return a if ACTIONS.index(a) >= ACTIONS.index(b) else b


@dataclass(frozen=True)
class PolicyRule:
    """Matches when any listed entity type is present, the pattern is found, or the source is listed.

    Conditions given together must all hold; a rule with none matches nothing.
    """

    name: str
    action: PrivacyAction
    entity_types: frozenset[str] = field(default_factory=frozenset)
    pattern: re.Pattern[str] | None = None
    sources: frozenset[str] = field(default_factory=frozenset)

    def matches(self, entities: Sequence[Entity], texts: Iterable[str], source: str | None) -> bool:
        conditions = []
        if self.entity_types:
            conditions.append(any(e.type in self.entity_types for e in entities))
        if self.pattern is not None:
            conditions.append(any(self.pattern.search(t) for t in texts))
        if self.sources:
            conditions.append(source in self.sources)
        return bool(conditions) and all(conditions)


@dataclass(frozen=True)
class PolicyDecision:
    action: PrivacyAction
    rule: str  # "request", "default" or the matching rule's name


@dataclass(frozen=True)
class PrivacyPolicy:
    default: PrivacyAction = "redact"
    rules: tuple[PolicyRule, ...] = ()

    def needs(self, types: frozenset[str]) -> bool:
        """Does any rule match on one of ``types`` (so detection must find them before deciding)?"""
        return any(rule.entity_types & types for rule in self.rules)

    def decide(
        self, requested: PrivacyAction | None, entities: Sequence[Entity], texts: Sequence[str], source: str | None
    ) -> PolicyDecision:
        decision = PolicyDecision(requested, "request") if requested else PolicyDecision(self.default, "default")
        for rule in self.rules:
            if rule.matches(entities, texts, source) and stricter(rule.action, decision.action) != decision.action:
                decision = PolicyDecision(rule.action, rule.name)
        return decision
