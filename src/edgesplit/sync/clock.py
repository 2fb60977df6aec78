"""The clock sync metadata is signed and checked against, and a simulated one for tests and benchmarks.

Every expiry the cloud signs and every "is this expired?" the edge asks reads :func:`now`.
:func:`simulated` moves that clock *and* the TUF client's reference clock by an offset, so a test
or ``bench/sync.py`` can live through a year of publishes, rotations and expiries in seconds.
It is never used when serving.
"""

from __future__ import annotations

import datetime as _datetime
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

__all__ = ["now", "simulated"]

_offset = timedelta(0)
_lock = threading.Lock()


def now() -> datetime:
    """The current UTC time, plus the simulated offset when one is set."""
    return datetime.now(UTC) + _offset


class _ShiftedDatetime(_datetime.datetime):
    @classmethod
    def now(cls, tz: _datetime.tzinfo | None = None) -> _ShiftedDatetime:
        moment = _datetime.datetime.now(tz) + _offset
        return cls.fromtimestamp(moment.timestamp(), tz)


@contextmanager
def simulated(offset: timedelta) -> Iterator[None]:
    """Run with both clocks (ours and TUF's) moved by ``offset``; restored on exit."""
    global _offset
    from tuf.ngclient._internal import trusted_metadata_set as tuf_clock

    with _lock:
        saved, saved_module = _offset, tuf_clock.datetime
        _offset = offset
        tuf_clock.datetime = SimpleNamespace(  # type: ignore[assignment]
            datetime=_ShiftedDatetime, timezone=_datetime.timezone, timedelta=_datetime.timedelta
        )
    try:
        yield
    finally:
        with _lock:
            _offset, tuf_clock.datetime = saved, saved_module
