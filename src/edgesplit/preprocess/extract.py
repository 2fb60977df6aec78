"""``extract``: first features of device and maintenance logs, as fields.

From the user's text it lists timestamps (ISO 8601, syslog ``Jan 12 10:22:01``, ``12/01/2026
10:22``), error and fault codes (``E1042``, ``ERR-17``, ``F-204``, ``0x8004``, ``code 503``,
``SPN 110 FMI 0``), and readings with units (``78.5 °C``, ``3.2 bar``, ``230 V``, ``1500 rpm``,
``12 %``). The prompt is not changed. The fields go into the response's
``edgesplit.preprocessing``, upstream with the request (``x-edgesplit-fields``), and into the
router's request tags: ``device-log`` when the text has timestamped lines, ``error-codes`` when
it has codes, so a router rule can act on them.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from edgesplit.generation import Prompt
from edgesplit.preprocess.base import Applied, Processed, Stage

if TYPE_CHECKING:
    from edgesplit.config import Settings

__all__ = ["LogExtractor", "LogFields", "extract_fields"]

_MONTHS = "Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec"
_TIMESTAMP = re.compile(
    r"\b\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(?::\d{2}(?:[.,]\d+)?)?(?:Z|[+-]\d{2}:?\d{2})?"
    rf"|\b(?:{_MONTHS}) +\d{{1,2}} \d{{2}}:\d{{2}}:\d{{2}}"
    r"|\b\d{1,2}/\d{1,2}/\d{2,4} \d{1,2}:\d{2}(?::\d{2})?"
)
_CODE = re.compile(
    r"\b(?:E|ERR|ERROR|F|FAULT|W|WARN|ALM|ALARM)[-_ ]?\d{2,5}\b"
    r"|\b0x[0-9A-Fa-f]{4,8}\b"
    r"|\b(?:code|status|error) (\d{3,4})\b"
    r"|\bSPN \d+ FMI \d+\b",
    re.I,
)
_UNITS = (
    r"°C|°F|degC|K|bar|psi|kPa|MPa|Pa|V|mV|kV|A|mA|W|kW|MW|Hz|kHz|rpm|%|ms|s|min|h|mm|cm|m|km|kg|g|l/min|m3/h|dB|ppm"
)
_READING = re.compile(rf"(?<![\w.])(-?\d+(?:[.,]\d+)?) ?({_UNITS})(?![\w/])")
_MAX_FIELDS = 50  # per kind: the fields summarise, they do not copy the log


class LogFields(dict[str, Any]):
    """``{"timestamps": [...], "error_codes": [...], "readings": [{"value", "unit"}], "lines": n}``."""


def extract_fields(text: str) -> LogFields:
    codes = [m.group(0) for m in _CODE.finditer(text)]
    readings = [{"value": float(value.replace(",", ".")), "unit": unit} for value, unit in _READING.findall(text)]
    stamped = sum(1 for line in text.splitlines() if _TIMESTAMP.search(line))
    return LogFields(
        timestamps=[m.group(0) for m in _TIMESTAMP.finditer(text)][:_MAX_FIELDS],
        error_codes=list(dict.fromkeys(codes))[:_MAX_FIELDS],
        readings=readings[:_MAX_FIELDS],
        timestamped_lines=stamped,
    )


def tags_for(fields: dict[str, Any]) -> tuple[str, ...]:
    """Router tags from extracted fields."""
    tags = []
    if fields.get("timestamped_lines", 0) >= 3:
        tags.append("device-log")
    if fields.get("error_codes"):
        tags.append("error-codes")
    return tuple(tags)


class LogExtractor:
    name = "extract"
    stage: Stage = "before-routing"

    def apply(self, prompt: Prompt) -> Processed:
        texts = [prompt.text] if prompt.text is not None else [t for role, t in prompt.messages if role == "user"]
        fields = extract_fields("\n".join(t for t in texts if t))
        found = bool(fields["timestamps"] or fields["error_codes"] or fields["readings"])
        detail = {"fields": dict(fields), "tags": list(tags_for(fields))}
        return Processed(prompt, Applied(self.name, False, detail if found else {"fields": {}, "tags": []}))


def extractor(settings: Settings) -> LogExtractor:
    """Entry point: the extractor takes no settings."""
    return LogExtractor()
