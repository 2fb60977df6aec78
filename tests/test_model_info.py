"""model_info.py: a GGUF header read without loading the model, also from the first of several parts."""

from __future__ import annotations

import struct
from pathlib import Path

import pytest
from typer.testing import CliRunner

from edgesplit.cli.app import app
from edgesplit.errors import ModelError
from edgesplit.model_info import read_gguf_info
from edgesplit.models import MODELS


def test_the_three_tiers_models_as_their_headers_describe_them() -> None:
    device = read_gguf_info(MODELS["smollm2-135m-instruct"].header_file())
    local = read_gguf_info(MODELS["qwen2.5-coder-0.5b-instruct"].header_file())
    cloud = read_gguf_info(MODELS["qwen2.5-coder-1.5b-instruct"].header_file())
    assert (device.architecture, device.n_layers, device.hidden_size, device.vocab_size) == ("llama", 30, 576, 49152)
    assert (local.architecture, local.n_layers, local.hidden_size) == ("qwen2", 24, 896)
    assert (cloud.architecture, cloud.n_layers, cloud.hidden_size) == ("qwen2", 28, 1536)
    assert local.vocab_size == cloud.vocab_size == 151_936  # versions of one model: one vocabulary
    assert all(m.has_chat_template for m in (device, local, cloud))


def test_the_header_is_read_from_a_first_part_alone() -> None:
    part = MODELS["qwen2.5-coder-1.5b-instruct"]
    assert part.header is not None
    first = Path(str(part.header()))
    info = read_gguf_info(first)
    assert info.name is not None and "1.5B" in info.name


def _header(keys: list[tuple[str, int, bytes]], n_keys: int | None = None) -> bytes:
    body = b"".join(struct.pack("<Q", len(k)) + k.encode() + struct.pack("<I", t) + v for k, t, v in keys)
    return b"GGUF" + struct.pack("<IQQ", 3, 0, len(keys) if n_keys is None else n_keys) + body


def _string(text: str) -> bytes:
    return struct.pack("<Q", len(text)) + text.encode()


def test_a_minimal_header_with_strings_scalars_and_an_array(tmp_path: Path) -> None:
    tokens = struct.pack("<IQ", 8, 2) + _string("a") + _string("bc")
    path = tmp_path / "m.gguf"
    path.write_bytes(
        _header(
            [
                ("general.architecture", 8, _string("llama")),
                ("llama.block_count", 4, struct.pack("<I", 2)),
                ("tokenizer.ggml.tokens", 9, tokens),
            ]
        )
    )
    info = read_gguf_info(path)
    assert (info.architecture, info.n_layers, info.vocab_size, info.has_chat_template) == ("llama", 2, 2, False)


@pytest.mark.parametrize(
    "content",
    [
        b"",
        b"GGML" + b"\0" * 40,
        _header([("general.architecture", 8, _string("llama"))], n_keys=5),  # claims more keys than it has
        _header([("general.architecture", 99, b"")]),  # an unknown value type
        _header([], n_keys=10**9),
    ],
)
def test_a_bad_header_is_a_model_error(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "bad.gguf"
    path.write_bytes(content)
    with pytest.raises(ModelError, match="GGUF"):
        read_gguf_info(path)


def test_edgesplit_models_lists_every_tier_and_a_named_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from edgesplit.cli.common import console

    own = MODELS["smollm2-135m-instruct"].locate()
    monkeypatch.setattr(console, "width", 400)  # wide enough for a venv's path, terminal or not (xdist)
    result = CliRunner().invoke(app, ["models", str(own), str(tmp_path / "none.gguf")])
    assert result.exit_code == 0, result.output
    for expected in ("smollm2-135m-instruct", "qwen2.5-coder-0.5b-instruct", "qwen2.5-coder-1.5b-instruct", "qwen2"):
        assert expected in result.output
    assert own.stem in result.output and "does not exist" in result.output
