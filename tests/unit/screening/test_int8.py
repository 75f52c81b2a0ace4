"""int8 linears: close to float32, one scale per token, and one quantization for query, key and value."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from services.moderation.screening import Screener
from services.moderation.screening import int8 as int8_module
from services.moderation.screening.int8 import Int8Linear, RowQuantizer, int8_supported, quantized_copy

pytestmark = pytest.mark.skipif(not int8_supported(), reason="this torch build has no CPU int8 matmul")


def _linear(inputs: int, outputs: int) -> torch.nn.Linear:
    torch.manual_seed(7)
    return torch.nn.Linear(inputs, outputs).eval()


def test_an_int8_linear_computes_what_the_float32_one_does() -> None:
    linear = _linear(384, 1536)
    x = torch.randn(3, 40, 384)
    with torch.inference_mode():
        expected, got = linear(x), Int8Linear(linear)(x)
    assert got.shape == expected.shape
    relative = (got - expected).norm() / expected.norm()
    assert relative < 0.02


def test_one_token_with_large_values_does_not_coarsen_the_others() -> None:
    linear = _linear(384, 384)
    x = torch.randn(64, 384)
    x[0] *= 300.0
    with torch.inference_mode():
        expected, got = linear(x), Int8Linear(linear)(x)
        # One scale for the whole batch (what torch's dynamic quantization does) for contrast.
        shared_scale = x.abs().max() / 127
        per_batch = torch.nn.functional.linear(torch.round(x / shared_scale) * shared_scale, linear.weight, linear.bias)
    ordinary_rows = slice(1, None)
    own_error = (got[ordinary_rows] - expected[ordinary_rows]).norm()
    shared_error = (per_batch[ordinary_rows] - expected[ordinary_rows]).norm()
    assert own_error < shared_error / 10


def test_query_key_and_value_quantize_their_common_input_once(monkeypatch: pytest.MonkeyPatch) -> None:
    calls = []
    real = int8_module.quantize_rows

    def counting(rows: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        calls.append(rows.shape)
        return real(rows)

    monkeypatch.setattr(int8_module, "quantize_rows", counting)
    shared = RowQuantizer(readers=3)
    query, key, value = (Int8Linear(_linear(384, 384), shared) for _ in range(3))
    x = torch.randn(2, 10, 384)
    with torch.inference_mode():
        query(x), key(x), value(x)
        assert len(calls) == 1
        assert shared._input is None, "the input is let go after its last reader"
        query(x)
    assert len(calls) == 2, "the next forward pass quantizes anew"


def test_the_quantized_encoder_keeps_embeddings_close_and_leaves_the_original_alone(screener: Screener) -> None:
    encoder = screener.encoder
    quantized = quantized_copy(encoder.model)
    int8_layers = [name for name, module in quantized.named_modules() if isinstance(module, Int8Linear)]
    assert len(int8_layers) == 6 * encoder.model.config.num_hidden_layers
    assert not any(isinstance(module, Int8Linear) for module in encoder.model.modules())

    windows = encoder.windows(["i took everything in the cabinet an hour ago", "90 days sober today, thank you all"])
    ids, mask = encoder.pad(windows.input_ids)
    with torch.inference_mode():
        pooled = []
        for model in (encoder.model, quantized):
            hidden = model(input_ids=ids, attention_mask=mask).last_hidden_state
            weights = mask.unsqueeze(-1).float()
            pooled.append(torch.nn.functional.normalize((hidden * weights).sum(1) / weights.sum(1), dim=1))
    cosine = (pooled[0] * pooled[1]).sum(1).numpy()
    assert np.all(cosine > 0.99)
