"""Dropout for the fine-tuned layers with masks that are cheap to draw on two CPU cores.

PyTorch's CPU dropout draws one Bernoulli sample per element from a single-threaded generator.
That draw took a fifth of a bfloat16 training epoch (profiled on 640 posts, 2026-12-04).
Here each 64-bit draw is cut into four 16-bit words, and an element is kept when its word is at
or above p's share of the 65,536 values. The drop rate is p rounded to 1/65,536 (0.1 becomes
0.100006), and masks come about four times faster. Only training uses these masks. With dropout
off (evaluation, scoring) the layers run PyTorch's own attention, so their output is unchanged.
"""

from __future__ import annotations

import copy
import math
from typing import Any

import torch
from transformers import AttentionInterface
from transformers.integrations.sdpa_attention import sdpa_attention_forward

#: The name the masked attention is registered under with transformers.
ATTENTION_NAME = "haven_masked_dropout"

_WORDS = 1 << 16


def keep_mask(shape: torch.Size | tuple[int, ...], p: float) -> torch.Tensor:
    """A boolean mask of `shape`; each element is False (dropped) with probability p."""
    count = math.prod(shape)
    draws = torch.randint(-(2**63), 2**63 - 1, ((count + 3) // 4,), dtype=torch.int64)
    words = draws.view(torch.int16)[:count].view(shape)
    return words >= round(p * _WORDS) - _WORDS // 2


def inverted_dropout(x: torch.Tensor, p: float, training: bool) -> torch.Tensor:
    """Inverted dropout: zero elements with probability p and scale the rest by 1 / (1 - p)."""
    if not training or p == 0.0:
        return x
    return x.masked_fill(~keep_mask(x.shape, p), 0.0) * (1.0 / (1.0 - p))


class MaskDropout(torch.nn.Module):
    """`torch.nn.Dropout` with masks from `keep_mask`."""

    def __init__(self, p: float) -> None:
        super().__init__()
        self.p = p

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return inverted_dropout(x, self.p, self.training)

    def extra_repr(self) -> str:
        return f"p={self.p}"


def masked_attention(
    module: Any,
    query: torch.Tensor,
    key: torch.Tensor,
    value: torch.Tensor,
    attention_mask: torch.Tensor | None,
    dropout: float = 0.0,
    scaling: float | None = None,
    **kwargs: Any,
) -> tuple[torch.Tensor, None]:
    """Self-attention with `dropout` applied to the attention probabilities through `keep_mask`.
    Without dropout it is PyTorch's scaled dot-product attention, as transformers runs it."""
    if dropout == 0.0:
        return sdpa_attention_forward(module, query, key, value, attention_mask, dropout=0.0, scaling=scaling, **kwargs)
    scale = query.size(-1) ** -0.5 if scaling is None else scaling
    scores = torch.matmul(query, key.transpose(2, 3)) * scale
    if attention_mask is not None:
        if attention_mask.dtype == torch.bool:
            scores = scores.masked_fill(~attention_mask, torch.finfo(scores.dtype).min)
        else:
            scores = scores + attention_mask
    probabilities = inverted_dropout(torch.softmax(scores, dim=-1), dropout, True)
    output = torch.matmul(probabilities.to(value.dtype), value)
    return output.transpose(1, 2).contiguous(), None


def use_mask_dropout(layers: Any) -> None:
    """Make these encoder layers (BERT-style, as transformers builds them) draw their dropout
    masks with `keep_mask`, at the probabilities they already have."""
    AttentionInterface.register(ATTENTION_NAME, masked_attention)
    for layer in layers:
        attention = layer.attention
        own_config = copy.copy(attention.self.config)
        own_config._attn_implementation = ATTENTION_NAME
        attention.self.config = own_config
        attention.output.dropout = MaskDropout(attention.output.dropout.p)
        layer.output.dropout = MaskDropout(layer.output.dropout.p)


__all__ = ["ATTENTION_NAME", "MaskDropout", "inverted_dropout", "keep_mask", "masked_attention", "use_mask_dropout"]
