"""The engine equals the reference: full forward vs transformers, and split [0,k)+[k,N) vs unsplit."""

from __future__ import annotations

import pytest
import torch

from edgesplit.engine.config import ModelConfig
from edgesplit.engine.model import Transformer, new_caches
from edgesplit.engine.weights import from_hf_state_dict

TOLERANCE = 1e-4  # max |logit difference|, fp32


def _tiny_pair(arch: str) -> tuple[torch.nn.Module, Transformer]:
    from transformers import LlamaConfig, LlamaForCausalLM, Qwen2Config, Qwen2ForCausalLM

    torch.manual_seed(0)
    config_cls, model_cls = (LlamaConfig, LlamaForCausalLM) if arch == "llama" else (Qwen2Config, Qwen2ForCausalLM)
    hf_config = config_cls(
        vocab_size=97,
        hidden_size=64,
        intermediate_size=96,
        num_hidden_layers=6,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=128,
        tie_word_embeddings=arch == "qwen2",
    )
    reference = model_cls(hf_config).eval()
    with torch.no_grad():  # non-zero biases, so Qwen2's q/k/v bias path is exercised
        for name, param in reference.named_parameters():
            if name.endswith("bias"):
                param.normal_(0, 0.1)
    ours = from_hf_state_dict(ModelConfig.from_hf(hf_config, max_seq_len=64), reference.state_dict())
    return reference, ours


def _split_logits(model: Transformer, tokens: torch.Tensor, k: int) -> torch.Tensor:
    n = model.config.n_layers
    edge, cloud = new_caches(model.config, range(0, k)), new_caches(model.config, range(k, n))
    positions = torch.arange(len(tokens))
    with torch.inference_mode():
        h = model.forward_layers(model.embed(tokens), range(0, k), positions, edge)
        return model.logits(model.forward_layers(h, range(k, n), positions, cloud))


@pytest.mark.parametrize("arch", ["llama", "qwen2"])
def test_full_forward_matches_transformers(arch: str) -> None:
    reference, ours = _tiny_pair(arch)
    tokens = torch.randint(0, 97, (12,))
    with torch.inference_mode():
        expected = reference(tokens[None]).logits
        got = ours.forward_all(tokens, torch.arange(12), new_caches(ours.config, range(ours.config.n_layers)))
    assert (expected - got).abs().max().item() < TOLERANCE


@pytest.mark.parametrize("arch", ["llama", "qwen2"])
@pytest.mark.parametrize("k", [1, 3, 5])
def test_split_matches_unsplit(arch: str, k: int) -> None:
    _, ours = _tiny_pair(arch)
    tokens = torch.randint(0, 97, (10,))
    with torch.inference_mode():
        whole = ours.forward_all(tokens, torch.arange(10), new_caches(ours.config, range(ours.config.n_layers)))
    assert (whole - _split_logits(ours, tokens, k)).abs().max().item() < TOLERANCE


@pytest.mark.parametrize("arch", ["llama", "qwen2"])
def test_incremental_decoding_matches_one_pass(arch: str) -> None:
    """Prefill then one token at a time through the KV cache equals one forward over everything."""
    _, ours = _tiny_pair(arch)
    tokens = torch.randint(0, 97, (9,))
    caches = new_caches(ours.config, range(ours.config.n_layers))
    with torch.inference_mode():
        whole = ours.forward_all(tokens, torch.arange(9), new_caches(ours.config, range(ours.config.n_layers)))
        steps = [ours.forward_all(tokens[:5], torch.arange(5), caches)]
        steps += [ours.forward_all(tokens[i : i + 1], torch.tensor([i]), caches) for i in range(5, 9)]
    assert (whole - torch.cat(steps, dim=1)).abs().max().item() < TOLERANCE


@pytest.mark.slow
def test_real_smollm2_matches_transformers_and_splits() -> None:
    from transformers import AutoModelForCausalLM

    from edgesplit.engine.weights import load_gguf
    from edgesplit.models import locate_model

    path = locate_model("smollm2-135m-instruct")
    ours = load_gguf(path, max_seq_len=64)
    reference = AutoModelForCausalLM.from_pretrained(path.parent, gguf_file=path.name, dtype=torch.float32).eval()
    tokens = torch.tensor([1, 9690, 198, 2683, 359, 253, 5356, 5646, 11173, 3365, 2, 198, 1, 4093])
    with torch.inference_mode():
        expected = reference(tokens[None]).logits
        got = ours.forward_all(tokens, torch.arange(len(tokens)), new_caches(ours.config, range(30)))
    assert (expected - got).abs().max().item() < 5e-4  # fp32, 30 layers, logits up to about 40
    assert torch.equal(expected.argmax(-1), got.argmax(-1))
    for k in (1, 15, 29):
        assert (got - _split_logits(ours, tokens, k)).abs().max().item() < TOLERANCE
