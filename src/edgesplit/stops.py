"""Stop sequences over a token stream: emit text as soon as it cannot start a stop sequence."""

from __future__ import annotations

__all__ = ["StopMatcher"]


class StopMatcher:
    """Feed text deltas; get back what is safe to emit and whether a stop sequence was hit.

    Text that could be the beginning of a stop sequence is held back until the next delta
    decides it, so a stop sequence split across tokens is still caught and never emitted.
    """

    def __init__(self, stops: tuple[str, ...]) -> None:
        self.stops = tuple(s for s in stops if s)
        self._held = ""
        self.stopped = False

    def feed(self, delta: str) -> str:
        """Add ``delta``; return the text that may be emitted now."""
        if self.stopped:
            return ""
        buffer = self._held + delta
        cut = min((i for i in (buffer.find(s) for s in self.stops) if i >= 0), default=-1)
        if cut >= 0:
            self.stopped = True
            self._held = ""
            return buffer[:cut]
        keep = self._longest_partial(buffer)
        self._held = buffer[len(buffer) - keep :] if keep else ""
        return buffer[: len(buffer) - keep]

    def flush(self) -> str:
        """The held-back text, at the end of a generation that did not stop on a sequence."""
        held, self._held = self._held, ""
        return "" if self.stopped else held

    def _longest_partial(self, buffer: str) -> int:
        best = 0
        for stop in self.stops:
            for size in range(min(len(stop) - 1, len(buffer)), best, -1):
                if buffer.endswith(stop[:size]):
                    best = size
                    break
        return best


class TokenText:
    """Token pieces (bytes) → emitted text: incremental UTF-8 decoding plus stop sequences."""

    def __init__(self, stops: tuple[str, ...]) -> None:
        import codecs

        self._decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self._stops = StopMatcher(stops)

    @property
    def stopped(self) -> bool:
        return self._stops.stopped

    def add(self, piece: bytes) -> str:
        """Text that may be emitted after this token (possibly empty while a stop sequence is undecided)."""
        return self._stops.feed(self._decoder.decode(piece))

    def finish(self) -> str:
        """What is left at the end of a generation that did not stop on a sequence."""
        return self._stops.flush() + self._decoder.decode(b"", final=True)
