"""Route resolution and the cascade verdict."""

from __future__ import annotations

import pytest

from edgesplit.errors import InvalidRequest, UnknownModel
from edgesplit.routing.router import CascadePolicy, resolve_route

LOCAL = "smollm2-135m-instruct"


@pytest.mark.parametrize(
    ("model", "header", "body", "expected"),
    [
        ("edgesplit/auto", None, None, "auto"),
        ("edgesplit/edge", None, None, "edge"),
        ("edgesplit/cloud", None, None, "cloud"),
        (LOCAL, None, None, "edge"),
        ("edgesplit/auto", "CLOUD", None, "cloud"),
        ("edgesplit/auto", None, "edge", "edge"),
        ("edgesplit/cloud", "cloud", "cloud", "cloud"),
        ("edgesplit/edge", "auto", None, "edge"),
    ],
)
def test_resolve(model: str, header: str | None, body: str | None, expected: str) -> None:
    assert resolve_route(model, LOCAL, header, body) == expected  # type: ignore[arg-type]


def test_unknown_model() -> None:
    with pytest.raises(UnknownModel):
        resolve_route("gpt-4o", LOCAL, None, None)


def test_conflict_and_bad_header() -> None:
    with pytest.raises(InvalidRequest, match="conflicting"):
        resolve_route("edgesplit/edge", LOCAL, "cloud", None)
    with pytest.raises(InvalidRequest):
        resolve_route("edgesplit/auto", LOCAL, "sideways", None)


def test_cascade_verdicts() -> None:
    policy = CascadePolicy(threshold=-1.0, probe_tokens=8)
    assert not policy.judge(-0.5).escalate
    assert not policy.judge(-1.0).escalate
    assert policy.judge(-1.5).escalate
    assert policy.judge(None).escalate  # an empty edge answer is not kept
