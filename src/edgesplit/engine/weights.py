"""Weights for the engine: dequantized from a GGUF file, or taken from a transformers model."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch

from edgesplit.engine.config import ModelConfig
from edgesplit.engine.model import Transformer

__all__ = ["from_hf_state_dict", "load_gguf"]

_GGUF_BLOCK = {
    "attn_norm.weight": "attention_norm.weight",
    "attn_q.weight": "attention.wq.weight",
    "attn_q.bias": "attention.wq.bias",
    "attn_k.weight": "attention.wk.weight",
    "attn_k.bias": "attention.wk.bias",
    "attn_v.weight": "attention.wv.weight",
    "attn_v.bias": "attention.wv.bias",
    "attn_output.weight": "attention.wo.weight",
    "ffn_norm.weight": "ffn_norm.weight",
    "ffn_gate.weight": "feed_forward.w1.weight",
    "ffn_up.weight": "feed_forward.w3.weight",
    "ffn_down.weight": "feed_forward.w2.weight",
}
_HF_BLOCK = {
    "input_layernorm.weight": "attention_norm.weight",
    "self_attn.q_proj.weight": "attention.wq.weight",
    "self_attn.q_proj.bias": "attention.wq.bias",
    "self_attn.k_proj.weight": "attention.wk.weight",
    "self_attn.k_proj.bias": "attention.wk.bias",
    "self_attn.v_proj.weight": "attention.wv.weight",
    "self_attn.v_proj.bias": "attention.wv.bias",
    "self_attn.o_proj.weight": "attention.wo.weight",
    "post_attention_layernorm.weight": "ffn_norm.weight",
    "mlp.gate_proj.weight": "feed_forward.w1.weight",
    "mlp.up_proj.weight": "feed_forward.w3.weight",
    "mlp.down_proj.weight": "feed_forward.w2.weight",
}


def _field_value(field: Any) -> Any:
    import gguf

    if not field.data:
        return None
    part = field.parts[field.data[0]]
    if field.types and field.types[0] == gguf.GGUFValueType.STRING:
        return bytes(part).decode("utf-8")
    return part.tolist()[0] if len(part) == 1 else part.tolist()


def _gguf_name(name: str) -> str | None:
    if name == "token_embd.weight":
        return "tok_embeddings.weight"
    if name == "output_norm.weight":
        return "norm.weight"
    if name == "output.weight":
        return "output.weight"
    if name.startswith("blk."):
        _, index, rest = name.split(".", 2)
        mapped = _GGUF_BLOCK.get(rest)
        return f"layers.{index}.{mapped}" if mapped else None
    return None


def load_gguf(path: Path, max_seq_len: int = 2048) -> Transformer:
    """Dequantize every tensor of a Llama/Qwen2 GGUF file into an fp32 :class:`Transformer`."""
    import gguf

    reader = gguf.GGUFReader(str(path))
    fields = {key: _field_value(field) for key, field in reader.fields.items() if not key.startswith("tokenizer.")}
    names = {t.name for t in reader.tensors}
    embed = next(t for t in reader.tensors if t.name == "token_embd.weight")
    vocab = int(embed.shape.tolist()[1])
    config = ModelConfig.from_gguf_fields(fields, vocab, tied="output.weight" not in names, max_seq_len=max_seq_len)
    state: dict[str, torch.Tensor] = {}
    for tensor in reader.tensors:
        target = _gguf_name(tensor.name)
        if target is None:
            continue
        array = gguf.quants.dequantize(tensor.data, tensor.tensor_type)
        shape = tuple(reversed([int(n) for n in tensor.shape.tolist()]))
        # a copy: F32 tensors come back as read-only views of the memory-mapped file
        state[target] = torch.from_numpy(np.array(array, dtype=np.float32).reshape(shape))
    return _build(config, state)


def from_hf_state_dict(config: ModelConfig, hf_state: dict[str, torch.Tensor]) -> Transformer:
    """A :class:`Transformer` with the weights of a transformers Llama/Qwen2 model (for reference tests)."""
    state: dict[str, torch.Tensor] = {}
    for name, tensor in hf_state.items():
        if name == "model.embed_tokens.weight":
            state["tok_embeddings.weight"] = tensor
        elif name == "model.norm.weight":
            state["norm.weight"] = tensor
        elif name == "lm_head.weight":
            state["output.weight"] = tensor
        elif name.startswith("model.layers."):
            _, _, index, rest = name.split(".", 3)
            if rest in _HF_BLOCK:
                state[f"layers.{index}.{_HF_BLOCK[rest]}"] = tensor
    return _build(config, state)


def _build(config: ModelConfig, state: dict[str, torch.Tensor]) -> Transformer:
    with torch.device("meta"):
        model = Transformer(config)
    if config.tie_embeddings:
        state.pop("output.weight", None)
    missing, unexpected = model.load_state_dict(state, strict=False, assign=True)
    missing = [m for m in missing if not (config.tie_embeddings and m == "output.weight")]
    if missing or unexpected:
        raise ValueError(f"weights do not fit the model: missing {missing[:5]}, unexpected {unexpected[:5]}")
    if config.tie_embeddings:
        model.output.weight = model.tok_embeddings.weight
    return model.eval()
