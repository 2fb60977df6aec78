"""Redactor: the privacy step of the edge's request path (classify → redact), and its plan for restore."""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from edgesplit.backends.base import Prompt
from edgesplit.config import Settings
from edgesplit.errors import PolicyViolation
from edgesplit.privacy.detectors import Detector, Entity
from edgesplit.privacy.policy import PolicyRule, PrivacyAction, PrivacyPolicy
from edgesplit.privacy.vault import Mapping, Vault, conversation_id

__all__ = ["PrivacyPlan", "Redactor", "redact_text"]


@dataclass
class PrivacyPlan:
    """What may leave the edge for one request, and how to restore what comes back."""

    action: PrivacyAction
    rule: str
    upstream_prompt: Prompt  # the prompt the upstream may see (redacted, or as is for allow)
    mapping: Mapping = field(default_factory=Mapping)
    counts: dict[str, int] = field(default_factory=dict)  # redacted entities by type (never values)
    conversation: str = ""

    @property
    def may_leave(self) -> bool:
        """May text derived from this request go upstream (redacted where the action says so)?"""
        return self.action in ("allow", "redact")

    @property
    def may_leave_raw(self) -> bool:
        """May unredacted data leave? Split inference sends hidden states, which cannot be redacted."""
        return self.action == "allow"

    def info(self) -> dict[str, Any]:
        return {"action": self.action, "rule": self.rule, "redacted": dict(self.counts)}


def redact_text(text: str, entities: list[Entity], mapping: Mapping) -> str:
    """``text`` with each entity replaced by its conversation-stable placeholder."""
    parts, last = [], 0
    for entity in entities:
        parts.append(text[last : entity.start])
        parts.append(mapping.placeholder(entity.type, entity.value))
        last = entity.end
    parts.append(text[last:])
    return "".join(parts)


class Redactor:
    """Detects, decides by policy, and builds the upstream prompt; raises PolicyViolation for ``refuse``."""

    def __init__(self, detector: Detector, vault: Vault, policy: PrivacyPolicy) -> None:
        self.detector = detector
        self.vault = vault
        self.policy = policy

    @classmethod
    def from_settings(cls, settings: Settings) -> Redactor:
        detector = Detector.from_settings(settings)
        rules = tuple(
            PolicyRule(
                name=r.name,
                action=r.action,
                entity_types=frozenset(r.entity_types),
                pattern=re.compile(r.pattern) if r.pattern else None,
                sources=frozenset(r.sources),
            )
            for r in settings.privacy_rules
        )
        return cls(detector, Vault(settings.vault_ttl_s), PrivacyPolicy(settings.privacy_default, rules))

    def plan(
        self, prompt: Prompt, requested: PrivacyAction | None, source: str | None, conversation: str | None
    ) -> PrivacyPlan:
        texts = [content for _, content in prompt.messages] if prompt.is_chat else [prompt.text or ""]
        found = [self.detector.detect(text) for text in texts]
        flat = [entity for entities in found for entity in entities]
        decision = self.policy.decide(requested, flat, texts, source)
        if decision.action == "refuse":
            kinds = ", ".join(sorted({e.type for e in flat})) or "no entities"
            raise PolicyViolation(f"refused by privacy rule {decision.rule!r} (found: {kinds})", rule=decision.rule)
        first = next((t for t in texts if t), "")
        cid = conversation_id(conversation, first)
        if decision.action != "redact":
            return PrivacyPlan(decision.action, decision.rule, prompt, conversation=cid)
        mapping = self.vault.mapping(cid)
        redacted = [redact_text(text, entities, mapping) for text, entities in zip(texts, found, strict=True)]
        if prompt.is_chat:
            messages = tuple((role, text) for (role, _), text in zip(prompt.messages, redacted, strict=True))
            upstream = Prompt(messages=messages)
        else:
            upstream = Prompt(text=redacted[0])
        counts = dict(Counter(e.type for e in flat))
        return PrivacyPlan(decision.action, decision.rule, upstream, mapping, counts, cid)
