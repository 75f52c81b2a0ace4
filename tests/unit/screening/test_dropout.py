"""Word-cut dropout masks drop at the asked rate, keep the expected value, and change nothing
when dropout is off: evaluation through the adapted layers equals PyTorch's own attention."""

from __future__ import annotations

import copy

import pytest
import torch
from transformers import BertConfig
from transformers.masking_utils import create_bidirectional_mask
from transformers.models.bert.modeling_bert import BertLayer

from tools.training.dropout import ATTENTION_NAME, inverted_dropout, keep_mask, masked_attention, use_mask_dropout


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
