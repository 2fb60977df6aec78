"""Redactor: the privacy step of the edge's request path (classify → redact), and its plan for restore.

NER only where it is needed. The policy decision runs the cheap detectors (patterns, cues,
labelled identifiers: well under a millisecond); spaCy's NER joins it only when a configured rule
names a type that NER finds (PERSON, LOCATION, ORGANIZATION). The redacted prompt, with NER, is
built the first time something asks for it, which is when text is about to leave the edge: a
request answered locally never pays for NER.
"""

from __future__ import annotations

import asyncio
import re
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from edgesplit.background import run_in_background
from edgesplit.errors import PolicyViolation
from edgesplit.generation import Prompt
from edgesplit.privacy.detectors import NER_TYPES, Detector, Entity
from edgesplit.privacy.policy import PolicyRule, PrivacyAction, PrivacyPolicy
from edgesplit.privacy.vault import Mapping, Vault, conversation_id
from edgesplit.schemas import UpstreamScope
from edgesplit.tracing import stage

if TYPE_CHECKING:
    from edgesplit.config import Settings

__all__ = ["PrivacyBoundary", "PrivacyPlan", "Redactor", "redact_text"]

# Where redaction is enforced: every tier redacts what leaves it (tier), or only the tier where text
# leaves the site (site: a device sends its own site's upstreams the text as is).
PrivacyBoundary = Literal["tier", "site"]


@dataclass
class PrivacyPlan:
    """What may leave the edge for one request, and how to restore what comes back."""

    action: PrivacyAction
    rule: str
    prompt: Prompt  # the request's own prompt
    mapping: Mapping = field(default_factory=Mapping)
    counts: dict[str, int] = field(default_factory=dict)  # entities by type (never values): found, then redacted
    conversation: str = ""
    redact: Callable[[PrivacyPlan], Prompt] | None = None  # builds the upstream prompt on first use
    upstream_scope: UpstreamScope = "cloud"  # where this tier's upstream is (site: on premises)
    # privacy_boundary = "site": the site's own upstreams get the text as is, and the tier where text
    # leaves the site redacts it (the floor "redact" travels with the request)
    raw_to_site: bool = False
    _upstream: Prompt | None = field(default=None, repr=False)
    _redacted: Prompt | None = field(default=None, repr=False)

    @property
    def upstream_prompt(self) -> Prompt:
        """The prompt the upstream may see: redacted (NER included) on first use, or as is for allow
        (and for redact, when the upstream is the site's own and redaction is enforced where text leaves the site)."""
        if self._upstream is None:
            self._upstream = self.prompt if self.raw_to_site else self.redacted_prompt
        return self._upstream

    @property
    def redacted_prompt(self) -> Prompt:
        """The prompt with every entity replaced, whoever it is for (feedback records are always redacted)."""
        if self._redacted is None and self.redact is not None:
            with stage("redact") as span:
                self._redacted = self.redact(self)
                span.set_attribute("edgesplit.redacted", sum(self.counts.values()))  # a count, never a value
        return self._redacted if self._redacted is not None else self.prompt

    async def upstream_prompt_off_loop(self, background: bool = False) -> Prompt:
        """:attr:`upstream_prompt`, built in a worker thread: NER takes milliseconds that token streams need.

        ``background``: for a deferred job, at low priority (see :mod:`edgesplit.background`)."""
        if not self.raw_to_site:
            await self.redacted_prompt_off_loop(background)
        return self.upstream_prompt

    async def redacted_prompt_off_loop(self, background: bool = False) -> Prompt:
        """:attr:`redacted_prompt`, built in a worker thread."""
        if self._redacted is None and self.redact is not None:

            def build() -> Prompt:
                return self.redacted_prompt

            await (run_in_background(build) if background else asyncio.to_thread(build))
        return self.redacted_prompt

    @property
    def redacted(self) -> bool:
        """Has the redacted prompt been built (so ``counts`` are what was redacted)?"""
        return self._redacted is not None

    @property
    def may_leave(self) -> bool:
        """May text derived from this request go upstream (redacted where the action says so)?"""
        return self.action in ("allow", "redact") or self._to_site

    @property
    def _to_site(self) -> bool:
        """Site-only data may go, as is, to an on-premises upstream."""
        return self.action == "site-only" and self.upstream_scope == "site"

    @property
    def upstream_floor(self) -> PrivacyAction | None:
        """The action the upstream must keep to (sent as ``x-edgesplit-privacy``), None when it is free.

        ``redact`` and ``site-only`` travel up, so the next hop starts from them and its rules can
        only tighten them; ``allow`` does not travel, so the next hop applies its own default."""
        return self.action if self.action in ("redact", "site-only") else None

    @property
    def may_leave_raw(self) -> bool:
        """May unredacted data leave? Split inference sends hidden states, which cannot be redacted."""
        return self.action == "allow" or self._to_site

    def info(self) -> dict[str, Any]:
        """For the response: what was redacted from what left; for an answer that stayed, what the cheap
        detectors found (NER does not run for it)."""
        if self.redacted:
            return {"action": self.action, "rule": self.rule, "redacted": dict(self.counts)}
        return {"action": self.action, "rule": self.rule, "redacted": {}, "found": dict(self.counts)}


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

    def __init__(
        self,
        detector: Detector,
        vault: Vault,
        policy: PrivacyPolicy,
        upstream_scope: UpstreamScope = "cloud",
        boundary: PrivacyBoundary = "tier",
    ) -> None:
        self.detector = detector
        self.vault = vault
        self.policy = policy
        self.upstream_scope: UpstreamScope = upstream_scope
        self.boundary: PrivacyBoundary = boundary

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
        policy = PrivacyPolicy(settings.privacy_default, rules)
        scope: UpstreamScope = "site" if settings.site_reachable else "cloud"
        return cls(detector, Vault(settings.vault_ttl_s), policy, scope, settings.privacy_boundary)

    def plan(
        self, prompt: Prompt, requested: PrivacyAction | None, source: str | None, conversation: str | None
    ) -> PrivacyPlan:
        texts = _texts(prompt)
        needs_ner = self.policy.needs(NER_TYPES)
        found = self.detector.detect_many(texts, ner=needs_ner)
        flat = [entity for entities in found for entity in entities]
        decision = self.policy.decide(requested, flat, texts, source)
        if decision.action == "refuse":
            kinds = ", ".join(sorted({e.type for e in flat})) or "no entities"
            raise PolicyViolation(f"refused by privacy rule {decision.rule!r} (found: {kinds})", rule=decision.rule)
        cid = conversation_id(conversation, next((t for t in texts if t), ""))
        counts = dict(Counter(e.type for e in flat))
        scope = self.upstream_scope
        if decision.action != "redact":
            return PrivacyPlan(
                decision.action, decision.rule, prompt, counts=counts, conversation=cid, upstream_scope=scope
            )
        reuse = found if needs_ner or not self.detector.has_ner else None
        return PrivacyPlan(
            decision.action, decision.rule, prompt, counts=counts, conversation=cid, upstream_scope=scope,
            redact=lambda plan: self._redact(plan, texts, reuse),
            raw_to_site=self.boundary == "site" and scope == "site",
        )  # fmt: skip

    def _redact(self, plan: PrivacyPlan, texts: list[str], found: list[list[Entity]] | None) -> Prompt:
        """The upstream prompt: every entity (NER included) replaced by its conversation-stable placeholder."""
        found = found if found is not None else self.detector.detect_many(texts)
        plan.mapping = self.vault.mapping(plan.conversation)
        plan.counts = dict(Counter(e.type for entities in found for e in entities))
        redacted = [redact_text(text, entities, plan.mapping) for text, entities in zip(texts, found, strict=True)]
        continuation = redacted.pop() if plan.prompt.continuation else ""
        if plan.prompt.is_chat:
            messages = tuple((role, t) for (role, _), t in zip(plan.prompt.messages, redacted, strict=True))
            return Prompt(messages=messages, continuation=continuation)
        return Prompt(text=redacted[0], continuation=continuation)


def _texts(prompt: Prompt) -> list[str]:
    """Every text of ``prompt`` the policy reads and redaction rewrites; an answer begun elsewhere last."""
    texts = [content for _, content in prompt.messages] if prompt.is_chat else [prompt.text or ""]
    return [*texts, prompt.continuation] if prompt.continuation else texts
