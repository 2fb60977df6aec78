"""``clean``: text as a device writes it, made readable before routing.

- broken encodings (UTF-8 read as Latin-1, ``Ã©`` for ``é``) are repaired with ``ftfy``;
- control characters other than newline and tab are removed, and the text is NFC-normalised;
- runs of spaces inside a line collapse to one (leading indentation is kept: code stays code),
  trailing whitespace goes, and more than two blank lines in a row become two.

Only user messages (or the completion text) are cleaned; the detail counts what changed.
"""

from __future__ import annotations

import re
import unicodedata
from typing import TYPE_CHECKING

from edgesplit.generation import Prompt
from edgesplit.preprocess.base import Applied, Processed, Stage, map_user_text

if TYPE_CHECKING:
    from edgesplit.config import Settings

__all__ = ["Cleaner", "clean_text"]

_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\u200b\ufeff]")
_INNER_SPACES = re.compile(r"(?<=\S)[ \t]{2,}(?=\S)")
_TRAILING = re.compile(r"[ \t]+$", re.M)
_BLANK_RUNS = re.compile(r"\n{4,}")


def clean_text(text: str) -> str:
    """``text`` repaired and tidied (see the module docstring)."""
    import ftfy

    fixed = ftfy.fix_text(text, normalization="NFC", uncurl_quotes=False, fix_line_breaks=True)
    fixed = unicodedata.normalize("NFC", _CONTROL.sub("", fixed))
    fixed = _INNER_SPACES.sub(" ", fixed)
    fixed = _TRAILING.sub("", fixed)
    return _BLANK_RUNS.sub("\n\n\n", fixed)


class Cleaner:
    name = "clean"
    stage: Stage = "before-routing"

    def apply(self, prompt: Prompt) -> Processed:
        removed = 0

        def change(text: str) -> str:
            nonlocal removed
            cleaned = clean_text(text)
            removed += len(text) - len(cleaned)
            return cleaned

        cleaned = map_user_text(prompt, change)
        return Processed(cleaned, Applied(self.name, cleaned != prompt, {"chars_removed": removed}))


def cleaner(settings: Settings) -> Cleaner:
    """Entry point: the cleaner takes no settings."""
    return Cleaner()
