"""Tensor frames: hidden states on the wire between tiers.

Layout (little-endian)::

    magic "ESTF" | version u8 | codec u8 | reserved u16 | n_tokens u32 | dim u32 | start_position u32
    [int8 only: n_tokens float32 scales]
    payload: n_tokens * dim values (fp32, fp16 or int8)

int8 is per-token absmax: each token's values are divided by ``max|x| / 127`` and rounded,
so a frame is ``dim + 4`` bytes per token plus the 20-byte header (about a quarter of fp32).
LLM hidden states have a few huge outlier channels (SmolLM2: one value of about 22,000 where
the median is about 2), which make the absmax scale coarse for everything else; ``int8o``
sends each token's 4 largest-magnitude channels exactly (u16 index + fp16 value) and quantizes
the rest, for 16 more bytes per token (about 0.26x fp32; layout: scales, indices, values, int8).
Decoding validates everything and raises :class:`InvalidFrame` (a 400) on a wrong magic,
version, codec, size, shape, or a non-finite value.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import torch

from edgesplit.errors import InvalidRequest

__all__ = ["CODECS", "Codec", "Frame", "InvalidFrame", "decode_frame", "encode_frame", "frame_bytes"]

Codec = Literal["fp32", "fp16", "int8", "int8o"]
CODECS: tuple[Codec, ...] = ("fp32", "fp16", "int8", "int8o")
OUTLIERS = 4  # channels per token sent exactly by int8o
_MAGIC = b"ESTF"
_VERSION = 1
_HEADER = struct.Struct("<4sBBHIII")
_DTYPES: dict[str, np.dtype[Any]] = {
    "fp32": np.dtype("<f4"),
    "fp16": np.dtype("<f2"),
    "int8": np.dtype("i1"),
    "int8o": np.dtype("i1"),
}
MAX_TOKENS = 65536


class InvalidFrame(InvalidRequest):
    """A tensor frame that cannot be decoded or does not fit the session."""

    def __init__(self, message: str) -> None:
        super().__init__(message, param="frame", code="invalid_frame")


@dataclass(frozen=True)
class Frame:
    hidden: torch.Tensor  # (1, T, dim) float32
    start_position: int

    @property
    def positions(self) -> torch.Tensor:
        return torch.arange(self.start_position, self.start_position + self.hidden.shape[1])


def frame_bytes(codec: Codec, n_tokens: int, dim: int) -> int:
    """Wire size of a frame, header included."""
    side = {"int8": 4, "int8o": 4 + OUTLIERS * 4}.get(codec, 0) * n_tokens  # scales (+ outlier index, value)
    return int(_HEADER.size + side + n_tokens * dim * _DTYPES[codec].itemsize)


def encode_frame(hidden: torch.Tensor, start_position: int, codec: Codec) -> bytes:
    """(1, T, dim) or (T, dim) hidden states → frame bytes."""
    values = hidden.detach().float().reshape(-1, hidden.shape[-1]).numpy()
    n_tokens, dim = values.shape
    header = _HEADER.pack(_MAGIC, _VERSION, CODECS.index(codec), 0, n_tokens, dim, start_position)
    if codec == "int8":
        scales, quantized = _absmax_int8(values)
        return bytes(header + scales.tobytes() + quantized.tobytes())
    if codec == "int8o":
        index = np.argsort(-np.abs(values), axis=1)[:, :OUTLIERS].astype("<u2")  # (T, OUTLIERS)
        outliers = np.take_along_axis(values, index.astype(np.int64), axis=1).astype("<f2")
        rest = values.copy()
        np.put_along_axis(rest, index.astype(np.int64), 0.0, axis=1)
        scales, quantized = _absmax_int8(rest)
        return bytes(header + scales.tobytes() + index.tobytes() + outliers.tobytes() + quantized.tobytes())
    return bytes(header + values.astype(_DTYPES[codec]).tobytes())


def _absmax_int8(values: np.ndarray[Any, Any]) -> tuple[np.ndarray[Any, Any], np.ndarray[Any, Any]]:
    scales = (np.abs(values).max(axis=1) / 127.0).astype("<f4")
    scales[scales == 0] = 1.0
    return scales, np.clip(np.rint(values / scales[:, None]), -127, 127).astype("i1")


def decode_frame(data: bytes, expected_dim: int | None = None) -> tuple[Frame, Codec]:
    """Frame bytes → hidden states; raises InvalidFrame with the reason."""
    if len(data) < _HEADER.size:
        raise InvalidFrame(f"frame is {len(data)} bytes, shorter than the {_HEADER.size}-byte header")
    magic, version, codec_id, _, n_tokens, dim, start = _HEADER.unpack_from(data)
    if magic != _MAGIC:
        raise InvalidFrame("not a tensor frame (bad magic)")
    if version != _VERSION:
        raise InvalidFrame(f"frame version {version} is not supported (this node speaks {_VERSION})")
    if codec_id >= len(CODECS):
        raise InvalidFrame(f"unknown codec id {codec_id}")
    codec = CODECS[codec_id]
    if not 1 <= n_tokens <= MAX_TOKENS or dim == 0:
        raise InvalidFrame(f"bad shape: {n_tokens} tokens x {dim}")
    if expected_dim is not None and dim != expected_dim:
        raise InvalidFrame(f"hidden size {dim} does not match the model's {expected_dim}")
    if len(data) != frame_bytes(codec, n_tokens, dim):
        raise InvalidFrame(f"frame is {len(data)} bytes; {frame_bytes(codec, n_tokens, dim)} expected for its header")
    body = memoryview(data)[_HEADER.size :]
    if codec == "int8":
        scales = np.frombuffer(body[: 4 * n_tokens], dtype="<f4")
        quantized = np.frombuffer(body[4 * n_tokens :], dtype="i1").reshape(n_tokens, dim)
        values = quantized.astype(np.float32) * scales[:, None]
    elif codec == "int8o":
        values = _decode_int8o(body, n_tokens, dim)
    else:
        values = np.frombuffer(body, dtype=_DTYPES[codec]).reshape(n_tokens, dim).astype(np.float32)
    if not np.isfinite(values).all():
        raise InvalidFrame("frame holds NaN or infinite values")
    return Frame(torch.from_numpy(values.copy())[None], int(start)), codec


def _decode_int8o(body: memoryview, n_tokens: int, dim: int) -> np.ndarray[Any, Any]:
    offset = 4 * n_tokens
    scales = np.frombuffer(body[:offset], dtype="<f4")
    index = np.frombuffer(body[offset : offset + 2 * OUTLIERS * n_tokens], dtype="<u2").reshape(n_tokens, OUTLIERS)
    offset += 2 * OUTLIERS * n_tokens
    outliers = np.frombuffer(body[offset : offset + 2 * OUTLIERS * n_tokens], dtype="<f2").reshape(n_tokens, OUTLIERS)
    offset += 2 * OUTLIERS * n_tokens
    if int(index.max(initial=0)) >= dim:
        raise InvalidFrame(f"outlier channel index {int(index.max())} is outside the hidden size {dim}")
    quantized = np.frombuffer(body[offset:], dtype="i1").reshape(n_tokens, dim)
    values: np.ndarray[Any, Any] = quantized.astype(np.float32) * scales[:, None]
    np.put_along_axis(values, index.astype(np.int64), outliers.astype(np.float32), axis=1)
    return values
