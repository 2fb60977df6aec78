"""A compact Llama / Qwen2 decoder, gpt-fast style, that runs any contiguous range of layers.

The edge runs ``embed`` and layers ``[0, k)``; the cloud runs layers ``[k, N)`` and ``logits``;
a single node runs everything. Each party keeps a static KV cache for the layers it runs.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from edgesplit.engine.config import ModelConfig

__all__ = ["KVCache", "Transformer", "new_caches"]


class KVCache(nn.Module):
    """Preallocated keys and values for one layer, batch 1."""

    k: Tensor
    v: Tensor

    def __init__(self, n_kv_heads: int, max_seq_len: int, head_dim: int, dtype: torch.dtype) -> None:
        super().__init__()
        shape = (1, n_kv_heads, max_seq_len, head_dim)
        self.register_buffer("k", torch.zeros(shape, dtype=dtype), persistent=False)
        self.register_buffer("v", torch.zeros(shape, dtype=dtype), persistent=False)

    def update(self, positions: Tensor, k: Tensor, v: Tensor) -> tuple[Tensor, Tensor]:
        """Write the new positions' k, v (1, H_kv, T, hd); return the cache up to the last position."""
        self.k[:, :, positions] = k
        self.v[:, :, positions] = v
        end = int(positions[-1]) + 1
        return self.k[:, :, :end], self.v[:, :, :end]

    @property
    def nbytes(self) -> int:
        return int(self.k.numel() * self.k.element_size() * 2)


def new_caches(config: ModelConfig, layers: range, max_seq_len: int | None = None) -> dict[int, KVCache]:
    """Empty caches for ``layers`` (the layers this party runs)."""
    seq = max_seq_len or config.max_seq_len
    return {i: KVCache(config.n_kv_heads, seq, config.head_dim, torch.float32) for i in layers}


class RMSNorm(nn.Module):
    def __init__(self, dim: int, eps: float) -> None:
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(dim))

    def forward(self, x: Tensor) -> Tensor:
        x32 = x.float()
        normed: Tensor = (x32 * torch.rsqrt(x32.pow(2).mean(-1, keepdim=True) + self.eps)).type_as(x)
        return normed * self.weight


def rope_tables(config: ModelConfig, positions: Tensor) -> tuple[Tensor, Tensor]:
    """cos, sin of shape (T, head_dim // 2) for the given absolute positions."""
    half = config.head_dim // 2
    inv_freq = 1.0 / (config.rope_base ** (torch.arange(0, half, dtype=torch.float32) * 2 / config.head_dim))
    angles = positions.float()[:, None] * inv_freq[None, :]  # (T, hd/2)
    return angles.cos(), angles.sin()


def apply_rope(x: Tensor, cos: Tensor, sin: Tensor, interleaved: bool) -> Tensor:
    """Rotate (B, H, T, hd) by position: adjacent pairs (GGUF Llama) or the two halves (HF, Qwen2)."""
    if interleaved:
        x1, x2 = x[..., 0::2], x[..., 1::2]
        out = torch.stack((x1 * cos - x2 * sin, x1 * sin + x2 * cos), dim=-1)
        return out.flatten(-2)
    x1, x2 = x.chunk(2, dim=-1)
    return torch.cat((x1 * cos - x2 * sin, x2 * cos + x1 * sin), dim=-1)


class Attention(nn.Module):
    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        self.config = config
        hd = config.head_dim
        self.wq = nn.Linear(config.dim, config.n_heads * hd, bias=config.qkv_bias)
        self.wk = nn.Linear(config.dim, config.n_kv_heads * hd, bias=config.qkv_bias)
        self.wv = nn.Linear(config.dim, config.n_kv_heads * hd, bias=config.qkv_bias)
        self.wo = nn.Linear(config.n_heads * hd, config.dim, bias=False)

    def forward(self, x: Tensor, positions: Tensor, rope: tuple[Tensor, Tensor], cache: KVCache) -> Tensor:
        c = self.config
        b, t, _ = x.shape
        q = self.wq(x).view(b, t, c.n_heads, c.head_dim).transpose(1, 2)  # (B, H, T, hd)
        k = self.wk(x).view(b, t, c.n_kv_heads, c.head_dim).transpose(1, 2)  # (B, H_kv, T, hd)
        v = self.wv(x).view(b, t, c.n_kv_heads, c.head_dim).transpose(1, 2)
        q = apply_rope(q, *rope, interleaved=c.rope_interleaved)
        k = apply_rope(k, *rope, interleaved=c.rope_interleaved)
        keys, values = cache.update(positions, k, v)  # (B, H_kv, S, hd), S = last position + 1
        mask = torch.arange(keys.shape[2])[None, :] <= positions[:, None]  # (T, S) causal over absolute positions
        y = F.scaled_dot_product_attention(q, keys, values, attn_mask=mask, enable_gqa=c.n_heads != c.n_kv_heads)
        out: Tensor = self.wo(y.transpose(1, 2).reshape(b, t, c.n_heads * c.head_dim))
        return out


class FeedForward(nn.Module):
    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        self.w1 = nn.Linear(config.dim, config.ffn_dim, bias=False)  # gate
        self.w3 = nn.Linear(config.dim, config.ffn_dim, bias=False)  # up
        self.w2 = nn.Linear(config.ffn_dim, config.dim, bias=False)  # down

    def forward(self, x: Tensor) -> Tensor:
        out: Tensor = self.w2(F.silu(self.w1(x)) * self.w3(x))
        return out


class Block(nn.Module):
    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        self.attention_norm = RMSNorm(config.dim, config.norm_eps)
        self.attention = Attention(config)
        self.ffn_norm = RMSNorm(config.dim, config.norm_eps)
        self.feed_forward = FeedForward(config)

    def forward(self, x: Tensor, positions: Tensor, rope: tuple[Tensor, Tensor], cache: KVCache) -> Tensor:
        h: Tensor = x + self.attention(self.attention_norm(x), positions, rope, cache)
        out: Tensor = h + self.feed_forward(self.ffn_norm(h))
        return out


class Transformer(nn.Module):
    """Embedding, N blocks, final norm and head; any party may run any contiguous slice."""

    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        self.config = config
        self.tok_embeddings = nn.Embedding(config.vocab_size, config.dim)
        self.layers = nn.ModuleList(Block(config) for _ in range(config.n_layers))
        self.norm = RMSNorm(config.dim, config.norm_eps)
        self.output = nn.Linear(config.dim, config.vocab_size, bias=False)
        if config.tie_embeddings:
            self.output.weight = self.tok_embeddings.weight

    def embed(self, tokens: Tensor) -> Tensor:
        """(T,) token ids → (1, T, dim) hidden states."""
        h: Tensor = self.tok_embeddings(tokens)[None]
        return h

    def forward_layers(self, h: Tensor, layers: range, positions: Tensor, caches: dict[int, KVCache]) -> Tensor:
        """Run blocks ``layers`` over hidden states (1, T, dim) at absolute ``positions`` (T,)."""
        rope = rope_tables(self.config, positions)
        for i in layers:
            block: Block = self.layers[i]  # type: ignore[assignment]
            h = block(h, positions, rope, caches[i])
        return h

    def logits(self, h: Tensor) -> Tensor:
        """(1, T, dim) → (1, T, vocab)."""
        out: Tensor = self.output(self.norm(h))
        return out

    @torch.inference_mode()
    def forward_all(self, tokens: Tensor, positions: Tensor, caches: dict[int, KVCache]) -> Tensor:
        """The whole model: token ids (T,) → logits (1, T, vocab)."""
        h = self.forward_layers(self.embed(tokens), range(self.config.n_layers), positions, caches)
        return self.logits(h)
