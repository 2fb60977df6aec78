"""Tensor frames: hidden states on the wire between tiers.

Layout (little-endian)::

    magic "ESTF" | version u8 | codec u8 | reserved u16 | n_tokens u32 | dim u32 | start_position u32
    [int8 only: n_tokens float32 scales]
    payload: n_tokens * dim values (fp32, fp16 or int8)

int8 is per-token absmax: each token's values are divided by ``max|x| / 127`` and rounded,
so a frame is ``dim + 4`` bytes per token plus the 20-byte header (about a quarter of fp32).
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

Codec = Literal["fp32", "fp16", "int8"]
CODECS: tuple[Codec, ...] = ("fp32", "fp16", "int8")
_MAGIC = b"ESTF"
_VERSION = 1
_HEADER = struct.Struct("<4sBBHIII")
_DTYPES: dict[str, np.dtype[Any]] = {"fp32": np.dtype("<f4"), "fp16": np.dtype("<f2"), "int8": np.dtype("i1")}
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
    scales = 4 * n_tokens if codec == "int8" else 0
    return int(_HEADER.size + scales + n_tokens * dim * _DTYPES[codec].itemsize)


def encode_frame(hidden: torch.Tensor, start_position: int, codec: Codec) -> bytes:
    """(1, T, dim) or (T, dim) hidden states → frame bytes."""
    values = hidden.detach().float().reshape(-1, hidden.shape[-1]).numpy()
    n_tokens, dim = values.shape
    header = _HEADER.pack(_MAGIC, _VERSION, CODECS.index(codec), 0, n_tokens, dim, start_position)
    if codec == "int8":
        scales = (np.abs(values).max(axis=1) / 127.0).astype("<f4")
        scales[scales == 0] = 1.0
        quantized = np.clip(np.rint(values / scales[:, None]), -127, 127).astype("i1")
        return bytes(header + scales.tobytes() + quantized.tobytes())
    return bytes(header + values.astype(_DTYPES[codec]).tobytes())


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
    else:
        values = np.frombuffer(body, dtype=_DTYPES[codec]).reshape(n_tokens, dim).astype(np.float32)
    if not np.isfinite(values).all():
        raise InvalidFrame("frame holds NaN or infinite values")
    return Frame(torch.from_numpy(values.copy())[None], int(start)), codec
