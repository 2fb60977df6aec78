"""The decoder's shape: read from GGUF metadata or a transformers config."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

__all__ = ["ModelConfig"]


@dataclass(frozen=True)
class ModelConfig:
    """Llama / Qwen2 decoder hyper-parameters."""

    arch: str  # "llama" or "qwen2"
    n_layers: int
    dim: int
    n_heads: int
    n_kv_heads: int
    ffn_dim: int
    vocab_size: int
    norm_eps: float = 1e-5
    rope_base: float = 10000.0
    rope_interleaved: bool = False  # GGUF Llama weights are permuted for adjacent-pair RoPE; HF uses halves
    qkv_bias: bool = False  # Qwen2 has biases on q, k, v
    tie_embeddings: bool = False
    max_seq_len: int = 2048

    @property
    def head_dim(self) -> int:
        return self.dim // self.n_heads

    @classmethod
    def from_gguf_fields(cls, fields: dict[str, Any], vocab_size: int, tied: bool, max_seq_len: int) -> ModelConfig:
        arch = str(fields["general.architecture"])
        if arch not in ("llama", "qwen2"):
            raise ValueError(f"unsupported architecture {arch!r}; the engine runs llama and qwen2")
        return cls(
            arch=arch,
            n_layers=int(fields[f"{arch}.block_count"]),
            dim=int(fields[f"{arch}.embedding_length"]),
            n_heads=int(fields[f"{arch}.attention.head_count"]),
            n_kv_heads=int(fields[f"{arch}.attention.head_count_kv"]),
            ffn_dim=int(fields[f"{arch}.feed_forward_length"]),
            vocab_size=vocab_size,
            norm_eps=float(fields[f"{arch}.attention.layer_norm_rms_epsilon"]),
            rope_base=float(fields.get(f"{arch}.rope.freq_base", 10000.0)),
            rope_interleaved=arch == "llama",
            qkv_bias=arch == "qwen2",
            tie_embeddings=tied,
            max_seq_len=max_seq_len,
        )

    @classmethod
    def from_hf(cls, config: Any, max_seq_len: int = 2048) -> ModelConfig:
        """From a transformers ``LlamaConfig`` / ``Qwen2Config`` (weights then use HF's half-split RoPE)."""
        arch = "qwen2" if config.model_type == "qwen2" else "llama"
        return cls(
            arch=arch,
            n_layers=config.num_hidden_layers,
            dim=config.hidden_size,
            n_heads=config.num_attention_heads,
            n_kv_heads=config.num_key_value_heads,
            ffn_dim=config.intermediate_size,
            vocab_size=config.vocab_size,
            norm_eps=config.rms_norm_eps,
            rope_base=float(getattr(config, "rope_theta", None) or config.rope_parameters["rope_theta"]),
            rope_interleaved=False,
            qkv_bias=arch == "qwen2",
            tie_embeddings=bool(config.tie_word_embeddings),
            max_seq_len=max_seq_len,
        )
