"""What a GGUF file says about its model, read from the header alone.

``gguf.GGUFReader`` maps the whole file and parses every tensor (about 20 s for the 0.5B model
here) and refuses a file that is cut short. A listing needs only the metadata at the front, so
this reads the key/value section and stops before the tensor table. That also works on the
first part of a model shipped in parts, before the parts are assembled.

Format (GGUF v2/v3, little-endian): ``GGUF``, version u32, tensor count u64, key/value count
u64, then each key as a u64-length string, a u32 value type and the value.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

from edgesplit.errors import ModelError

__all__ = ["GGUFInfo", "read_gguf_info"]

_SCALARS: dict[int, str] = {
    0: "<B",
    1: "<b",
    2: "<H",
    3: "<h",
    4: "<I",
    5: "<i",
    6: "<f",
    7: "<?",
    10: "<Q",
    11: "<q",
    12: "<d",
}
_STRING, _ARRAY = 8, 9
_MAX_KEYS = 100_000  # a header claiming more is corrupt, not large


@dataclass(frozen=True)
class GGUFInfo:
    """The facts a listing shows about one model file."""

    architecture: str
    name: str | None
    context_length: int | None
    n_layers: int | None
    hidden_size: int | None
    vocab_size: int | None
    has_chat_template: bool
    version: int


def read_gguf_info(path: Path) -> GGUFInfo:
    """Read the header of the GGUF file (or its first part) at ``path``; a bad header raises :class:`ModelError`."""
    with path.open("rb") as src:
        try:
            return _read(src)
        except (struct.error, UnicodeDecodeError, ValueError) as exc:
            raise ModelError(f"{path}: not a readable GGUF header ({exc})") from None


def _read(src: BinaryIO) -> GGUFInfo:
    if src.read(4) != b"GGUF":
        raise ValueError("no GGUF magic")
    version, _tensors, n_keys = struct.unpack("<IQQ", src.read(20))
    if n_keys > _MAX_KEYS:
        raise ValueError(f"{n_keys} metadata keys")
    meta: dict[str, Any] = {}
    lengths: dict[str, int] = {}
    for _ in range(n_keys):
        key = _string(src)
        kind = struct.unpack("<I", src.read(4))[0]
        if kind == _ARRAY:
            lengths[key] = _skip_array(src)
        else:
            meta[key] = _value(src, kind)
    arch = str(meta.get("general.architecture", "unknown"))
    return GGUFInfo(
        architecture=arch,
        name=meta.get("general.name"),
        context_length=meta.get(f"{arch}.context_length"),
        n_layers=meta.get(f"{arch}.block_count"),
        hidden_size=meta.get(f"{arch}.embedding_length"),
        vocab_size=lengths.get("tokenizer.ggml.tokens"),
        has_chat_template=bool(meta.get("tokenizer.chat_template")),
        version=version,
    )


def _string(src: BinaryIO) -> str:
    (length,) = struct.unpack("<Q", src.read(8))
    data = src.read(length)
    if len(data) != length:
        raise ValueError("string runs past the end of the file")
    return data.decode("utf-8")


def _value(src: BinaryIO, kind: int) -> Any:
    if kind == _STRING:
        return _string(src)
    if kind not in _SCALARS:
        raise ValueError(f"unknown value type {kind}")
    fmt = _SCALARS[kind]
    return struct.unpack(fmt, src.read(struct.calcsize(fmt)))[0]


def _skip_array(src: BinaryIO) -> int:
    """Skip an array's items; return its length."""
    kind, count = struct.unpack("<IQ", src.read(12))
    if kind == _STRING:
        for _ in range(count):
            (length,) = struct.unpack("<Q", src.read(8))
            src.seek(length, 1)
    elif kind in _SCALARS:
        src.seek(count * struct.calcsize(_SCALARS[kind]), 1)
    else:  # nested arrays do not occur in llama.cpp's keys
        raise ValueError(f"array of type {kind}")
    return int(count)
