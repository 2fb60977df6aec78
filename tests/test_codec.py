"""Tensor frames: round trips per codec, sizes, and malformed frames rejected with reasons."""

from __future__ import annotations

import struct

import pytest
import torch

from edgesplit.engine.codec import CODECS, InvalidFrame, decode_frame, encode_frame, frame_bytes


@pytest.mark.parametrize("codec", CODECS)
def test_round_trip(codec: str) -> None:
    torch.manual_seed(0)
    hidden = torch.randn(1, 7, 64) * 3
    frame, got_codec = decode_frame(encode_frame(hidden, 5, codec), expected_dim=64)  # type: ignore[arg-type]
    assert got_codec == codec and frame.start_position == 5
    assert frame.positions.tolist() == list(range(5, 12))
    error = (frame.hidden - hidden).abs().max().item()
    bound = {
        "fp32": 0.0,
        "fp16": 0.01,
        "int8": hidden.abs().max().item() / 127,
        "int8o": hidden.abs().max().item() / 127,
    }[codec]
    assert error <= bound + 1e-6


def test_sizes() -> None:
    assert frame_bytes("fp32", 1, 576) == 20 + 576 * 4
    assert frame_bytes("int8", 1, 576) == 20 + 4 + 576
    assert frame_bytes("int8", 1, 576) / frame_bytes("fp32", 1, 576) < 0.27
    hidden = torch.randn(1, 3, 576)
    assert all(len(encode_frame(hidden, 0, c)) == frame_bytes(c, 3, 576) for c in CODECS)  # type: ignore[arg-type]


def test_int8o_keeps_outlier_channels_exact() -> None:
    torch.manual_seed(1)
    hidden = torch.randn(1, 5, 576)
    hidden[0, :, 7] = 20000.0  # one huge channel, as real hidden states have
    hidden[0, 2, 300] = -900.0
    plain, _ = decode_frame(encode_frame(hidden, 0, "int8"))
    outlier, _ = decode_frame(encode_frame(hidden, 0, "int8o"))
    assert outlier.hidden[0, :, 7].tolist() == [20000.0] * 5 and outlier.hidden[0, 2, 300].item() == -900.0
    rest = torch.ones(576, dtype=torch.bool)
    rest[[7, 300]] = False
    plain_error = (plain.hidden - hidden)[0][:, rest].abs().mean().item()
    outlier_error = (outlier.hidden - hidden)[0][:, rest].abs().mean().item()
    assert outlier_error < plain_error / 20  # the small channels keep their precision
    assert frame_bytes("int8o", 1, 576) / frame_bytes("fp32", 1, 576) < 0.27


def test_int8o_rejects_bad_outlier_index() -> None:
    data = bytearray(encode_frame(torch.randn(1, 1, 16), 0, "int8o"))
    data[20 + 4 : 20 + 6] = (999).to_bytes(2, "little")  # first outlier index, past the hidden size
    with pytest.raises(InvalidFrame, match="outside the hidden size"):
        decode_frame(bytes(data))


def test_all_zero_token_survives_int8() -> None:
    frame, _ = decode_frame(encode_frame(torch.zeros(1, 2, 8), 0, "int8"))
    assert torch.equal(frame.hidden, torch.zeros(1, 2, 8))


def _frame() -> bytes:
    return encode_frame(torch.randn(1, 2, 16), 0, "fp32")


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"ESTF", "shorter than"),
        (b"XXXX" + _frame()[4:], "bad magic"),
        (_frame()[:4] + bytes([9]) + _frame()[5:], "version 9"),
        (_frame()[:5] + bytes([7]) + _frame()[6:], "unknown codec"),
        (_frame()[:-4], "bytes;"),
        (_frame() + b"\0", "bytes;"),
        (_frame()[:8] + struct.pack("<I", 0) + _frame()[12:], "bad shape"),
    ],
)
def test_malformed_frames(data: bytes, reason: str) -> None:
    with pytest.raises(InvalidFrame, match=reason):
        decode_frame(data)


def test_wrong_hidden_size_and_nan() -> None:
    with pytest.raises(InvalidFrame, match="does not match"):
        decode_frame(_frame(), expected_dim=32)
    bad = torch.randn(1, 2, 16)
    bad[0, 1, 3] = float("nan")
    with pytest.raises(InvalidFrame, match="NaN"):
        decode_frame(encode_frame(bad, 0, "fp16"))
