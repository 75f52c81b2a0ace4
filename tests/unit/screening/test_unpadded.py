"""The unpadded forward pass gives transformers' last hidden state at every real position."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from transformers import BertConfig, BertModel

from services.moderation.screening import Screener
from services.moderation.screening.encoder import arithmetic
from services.moderation.screening.unpadded import last_hidden_state, matches_plain_forward


def _small_bert(**overrides: object) -> BertModel:
    torch.manual_seed(5)
    config = BertConfig(
        vocab_size=120,
        hidden_size=48,
        num_hidden_layers=3,
        num_attention_heads=4,
        intermediate_size=96,
        max_position_embeddings=64,
        **overrides,
    )
    return BertModel(config, add_pooling_layer=False).eval()


def _padded(lengths: list[int]) -> tuple[torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(9)
    ids = torch.zeros((len(lengths), max(lengths)), dtype=torch.long)
    mask = torch.zeros_like(ids)
    for row, length in enumerate(lengths):
        ids[row, :length] = torch.randint(1, 120, (length,), generator=generator)
        mask[row, :length] = 1
    return ids, mask


@pytest.mark.parametrize("precision", ["fp32", "bf16"])
def test_real_positions_match_the_plain_pass_and_padding_is_zero(precision: str) -> None:
    model = _small_bert()
    ids, mask = _padded([3, 17, 1, 9, 17, 5])
    with torch.inference_mode(), arithmetic(precision):
        plain = model(input_ids=ids, attention_mask=mask).last_hidden_state.float()
        unpadded = last_hidden_state(model, ids, mask).float()
    real = mask.bool()
    tolerance = 1e-5 if precision == "fp32" else 2e-2
    assert torch.allclose(unpadded[real], plain[real], atol=tolerance, rtol=0)
    assert not unpadded[~real].any()


def test_a_batch_without_padding_gives_the_plain_pass() -> None:
    model = _small_bert()
    ids, mask = _padded([8, 8, 8])
    with torch.inference_mode():
        plain = model(input_ids=ids, attention_mask=mask).last_hidden_state
        unpadded = last_hidden_state(model, ids, mask)
    assert torch.allclose(unpadded, plain, atol=1e-5, rtol=0)


def test_only_the_bert_shape_it_reads_is_run_unpadded() -> None:
    assert matches_plain_forward(_small_bert())
    eager = _small_bert()
    eager.config._attn_implementation = "eager"
    assert not matches_plain_forward(eager)
    assert not matches_plain_forward(_small_bert(chunk_size_feed_forward=4))
    assert not matches_plain_forward(torch.nn.Linear(4, 4))


def test_the_shipped_encoder_embeds_the_same_unpadded_as_plain(screener: Screener) -> None:
    encoder = screener.encoder
    windows = encoder.windows(
        [
            "day 3",
            "I have been sober for a month and tonight the cravings are loud, but I called my sponsor.",
            "no quiero seguir así, ya no aguanto más",
            "ok",
        ]
    )
    with torch.inference_mode():
        production = encoder._forward_with_spans(windows.input_ids, "bf16")[0]
        plain = encoder._forward_with_spans(windows.input_ids, "bf16", plain=True)[0]
    cosines = (production * plain).sum(axis=1)
    assert np.all(cosines >= 0.9999), cosines
