"""Stage 2 of the request path, preprocess: the node's before-routing pre-processors, in order.

Each step sees the prompt the previous one produced (cleaning first, then extraction reads the
clean text). What they did goes into the response's ``edgesplit.preprocessing``; extracted
fields travel upstream as ``x-edgesplit-fields`` (compact JSON, at most 4 KiB) and their tags
join the request's router hints.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import replace
from typing import TYPE_CHECKING

from edgesplit.http.admit import Admitted

if TYPE_CHECKING:
    from edgesplit.preprocess.base import Applied, Preprocessor

__all__ = ["FIELDS_HEADER", "preprocess", "request_tags"]

FIELDS_HEADER = "x-edgesplit-fields"
_MAX_FIELDS_BYTES = 4096


def preprocess(admitted: Admitted, steps: Sequence[Preprocessor]) -> Admitted:
    """``admitted`` with its prompt through every step and what each did recorded."""
    if not steps:
        return admitted
    prompt, applied = admitted.prompt, []
    for step in steps:
        processed = step.apply(prompt)
        prompt = processed.prompt
        applied.append(processed.applied)
    params = admitted.params
    if header := _fields_header(applied):
        params = params.with_upstream_header(FIELDS_HEADER, header)
    return replace(admitted, prompt=prompt, params=params, preprocessed=tuple(applied))


def request_tags(applied: Sequence[Applied]) -> tuple[str, ...]:
    """Router tags the pre-processors derived (``device-log``, ``error-codes``)."""
    return tuple(tag for a in applied for tag in a.detail.get("tags", ()))


def _fields_header(applied: Sequence[Applied]) -> str | None:
    fields = {a.name: a.detail["fields"] for a in applied if a.detail.get("fields")}
    if not fields:
        return None
    encoded = json.dumps(fields, separators=(",", ":"), ensure_ascii=True)
    return encoded if len(encoded) <= _MAX_FIELDS_BYTES else None
