"""Stop sequences split across tokens."""

from __future__ import annotations

from edgesplit.stops import StopMatcher


def _run(stops: tuple[str, ...], pieces: list[str]) -> tuple[str, bool]:
    matcher = StopMatcher(stops)
    out = "".join(matcher.feed(p) for p in pieces)
    return out + matcher.flush(), matcher.stopped


def test_no_stops_passes_everything() -> None:
    assert _run((), ["a", "b"]) == ("ab", False)


def test_stop_inside_one_piece() -> None:
    assert _run(("END",), ["hello END world"]) == ("hello ", True)


def test_stop_split_across_pieces_is_not_emitted() -> None:
    assert _run(("END",), ["hello E", "N", "D more"]) == ("hello ", True)


def test_false_start_is_released() -> None:
    matcher = StopMatcher(("END",))
    assert matcher.feed("hello E") == "hello "
    assert matcher.feed("X") == "EX"
    assert not matcher.stopped


def test_held_text_flushed_at_end() -> None:
    assert _run(("END",), ["abc E"]) == ("abc E", False)


def test_earliest_of_several_stops_wins() -> None:
    assert _run(("zz", "b"), ["a", "bzz"]) == ("a", True)
