"""Word-cut dropout masks drop at the asked rate, keep the expected value, and change nothing
when dropout is off: evaluation through the adapted layers equals PyTorch's own attention."""

from __future__ import annotations

import copy

import pytest
import torch
from transformers import BertConfig
from transformers.masking_utils import create_bidirectional_mask
from transformers.models.bert.modeling_bert import BertLayer

from tools.training.dropout import (
    ATTENTION_NAME,
    inverted_dropout,
    keep_mask,
    kept_ones,
    masked_attention,
    use_mask_dropout,
)


@pytest.mark.parametrize("p", [0.1, 0.5, 0.02])
def test_masks_drop_each_element_with_the_asked_probability(p: float) -> None:
    torch.manual_seed(3)
    dropped = (~keep_mask((64, 12, 50, 50), p)).double().mean().item()
    count = 64 * 12 * 50 * 50
    assert abs(dropped - p) < 5 * (p * (1 - p) / count) ** 0.5 + 1 / 65536


def test_masks_are_seeded_and_differ_draw_to_draw() -> None:
    torch.manual_seed(9)
    first, second = keep_mask((1000,), 0.1), keep_mask((1000,), 0.1)
    torch.manual_seed(9)
    assert torch.equal(keep_mask((1000,), 0.1), first)
    assert not torch.equal(first, second)


def test_inverted_dropout_zeroes_and_rescales_the_rest_and_is_off_outside_training() -> None:
    torch.manual_seed(5)
    x = torch.full((200_000,), 2.0)
    dropped = inverted_dropout(x, 0.25, training=True)
    assert torch.equal(dropped.unique(), torch.tensor([0.0, 2.0 / 0.75]))
    assert abs(dropped.mean().item() - 2.0) < 0.02
    assert inverted_dropout(x, 0.25, training=False) is x
    assert inverted_dropout(x, 0.0, training=True) is x


def _layer_and_inputs() -> tuple[BertConfig, BertLayer, torch.Tensor, torch.Tensor]:
    torch.manual_seed(0)
    config = BertConfig(
        hidden_size=32, num_attention_heads=4, intermediate_size=64, num_hidden_layers=1, attn_implementation="sdpa"
    )
    layer = BertLayer(config)
    hidden = torch.randn(3, 7, 32)
    mask = torch.ones(3, 7, dtype=torch.long)
    mask[1, 4:] = 0
    mask[2, 2:] = 0
    return config, layer, hidden, create_bidirectional_mask(config=config, inputs_embeds=hidden, attention_mask=mask)


def test_masked_attention_without_drops_is_pytorchs_attention_with_padding() -> None:
    config, layer, hidden, mask = _layer_and_inputs()
    attention = layer.attention.self
    shape = (3, 7, 4, 8)
    query, key, value = (
        projection(hidden).view(shape).transpose(1, 2)
        for projection in (attention.query, attention.key, attention.value)
    )
    plain, _ = masked_attention(attention, query, key, value, mask, dropout=0.0, scaling=attention.scaling)
    # A rate below one word in 65,536 drops nothing, so this runs the masked path's arithmetic.
    masked, _ = masked_attention(attention, query, key, value, mask, dropout=1e-9, scaling=attention.scaling)
    assert torch.allclose(masked, plain, atol=1e-5)


def test_adapted_layers_evaluate_exactly_as_before_and_drop_in_training() -> None:
    config, layer, hidden, mask = _layer_and_inputs()
    adapted = copy.deepcopy(layer)
    use_mask_dropout([adapted])
    layer.eval()
    adapted.eval()
    with torch.inference_mode():
        assert torch.equal(adapted(hidden, attention_mask=mask)[0], layer(hidden, attention_mask=mask)[0])
    assert config._attn_implementation == "sdpa", "the encoder's own config is left alone"
    assert adapted.attention.self.config._attn_implementation == ATTENTION_NAME
    adapted.train()
    torch.manual_seed(1)
    once = adapted(hidden, attention_mask=mask)[0]
    twice = adapted(hidden, attention_mask=mask)[0]
    assert not torch.allclose(once, twice)
    torch.manual_seed(1)
    assert torch.equal(adapted(hidden, attention_mask=mask)[0], once), "seeded: the same masks again"


def _masked_then_scaled(x: torch.Tensor, p: float) -> torch.Tensor:
    """Dropout as it was computed before 2026-12-06: boolean masking, then scaling."""
    return x.masked_fill(~keep_mask(x.shape, p), 0.0) * (1.0 / (1.0 - p))


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
def test_kept_ones_are_the_masks_draws_as_numbers(dtype: torch.dtype) -> None:
    torch.manual_seed(4)
    mask = keep_mask((64, 12, 50, 50), 0.1)
    torch.manual_seed(4)
    ones = kept_ones((64, 12, 50, 50), 0.1, dtype)
    assert ones.dtype == dtype
    assert torch.equal(ones, mask.to(dtype))


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
def test_multiplied_dropout_equals_masking_bit_for_bit_forward_and_back(dtype: torch.dtype) -> None:
    x = torch.randn(16, 12, 40, 40).to(dtype).requires_grad_(True)
    upstream = torch.randn(16, 12, 40, 40).to(dtype)
    torch.manual_seed(6)
    now = inverted_dropout(x, 0.1, training=True)
    (now_grad,) = torch.autograd.grad(now, x, upstream)
    torch.manual_seed(6)
    before = _masked_then_scaled(x, 0.1)
    (before_grad,) = torch.autograd.grad(before, x, upstream)
    assert now.dtype == before.dtype == dtype
    assert torch.equal(now, before)
    assert torch.equal(now_grad, before_grad)


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
def test_padding_added_as_the_lowest_number_equals_masking_bit_for_bit(dtype: torch.dtype) -> None:
    config, layer, hidden, mask = _layer_and_inputs()
    attention = layer.attention.self
    query, key, value = (
        projection(hidden).view(3, 7, 4, 8).transpose(1, 2).detach().to(dtype).requires_grad_(True)
        for projection in (attention.query, attention.key, attention.value)
    )
    scale = attention.scaling
    torch.manual_seed(8)
    now, _ = masked_attention(attention, query, key, value, mask, dropout=0.1, scaling=scale)
    now_grads = torch.autograd.grad(now.sum(), (query, key, value))
    torch.manual_seed(8)
    scores = (torch.matmul(query, key.transpose(2, 3)) * scale).masked_fill(~mask, torch.finfo(dtype).min)
    probabilities = _masked_then_scaled(torch.softmax(scores, dim=-1), 0.1)
    before = torch.matmul(probabilities, value).transpose(1, 2).contiguous()
    before_grads = torch.autograd.grad(before.sum(), (query, key, value))
    assert torch.equal(now, before)
    assert all(torch.equal(a, b) for a, b in zip(now_grads, before_grads, strict=True))
