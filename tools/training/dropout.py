"""Dropout for the fine-tuned layers with masks that are cheap to draw on two CPU cores.

PyTorch's CPU dropout draws one Bernoulli sample per element from a single-threaded generator.
That draw took a fifth of a bfloat16 training epoch (profiled on 640 posts, 2026-12-04).
Here each 64-bit draw is cut into four 16-bit words, and an element is kept when its word is at
or above p's share of the 65,536 values. The drop rate is p rounded to 1/65,536 (0.1 becomes
0.100006), and masks come about four times faster. Only training uses these masks. With dropout
off (evaluation, scoring) the layers run PyTorch's own attention, so their output is unchanged.

Since 2026-12-06 the masks are applied by multiplying by 0 or 1, and the attention's padding by
adding, not by boolean masking: the same numbers bit for bit (tests/unit/screening/test_dropout.py;
the default command wrote the shipped weights again), and a bfloat16 epoch 6–9 % faster.
"""

from __future__ import annotations

import copy
import math
from typing import Any, cast

import torch
from transformers import AttentionInterface
from transformers.integrations.sdpa_attention import sdpa_attention_forward

#: The name the masked attention is registered under with transformers.
ATTENTION_NAME = "haven_masked_dropout"

_WORDS = 1 << 16


def _words(shape: torch.Size | tuple[int, ...]) -> torch.Tensor:
    """Signed 16-bit words of `shape`, four cut from each 64-bit draw of PyTorch's generator."""
    count = math.prod(shape)
    draws = torch.randint(-(2**63), 2**63 - 1, ((count + 3) // 4,), dtype=torch.int64)
    return draws.view(torch.int16)[:count].view(shape)


def _first_kept_word(p: float) -> int:
    return round(p * _WORDS) - _WORDS // 2


def keep_mask(shape: torch.Size | tuple[int, ...], p: float) -> torch.Tensor:
    """A boolean mask of `shape`; each element is False (dropped) with probability p."""
    return _words(shape) >= _first_kept_word(p)


def kept_ones(shape: torch.Size | tuple[int, ...], p: float, dtype: torch.dtype) -> torch.Tensor:
    """`keep_mask`'s draws as 1 (kept) and 0 (dropped) in `dtype`, for multiplying by: boolean
    masking (masked_fill) ran several times slower on two cores than a multiply."""
    first = _first_kept_word(p)
    # The words are whole numbers: clamped between the last dropped and the first kept word and
    # shifted, they are exactly 0 or 1 (in 16-bit integers, which cannot overflow here).
    return _words(shape).clamp(first - 1, first).sub_(first - 1).to(dtype)


class _Dropped(torch.autograd.Function):
    """x * kept * scale, the kept ones a constant. Each step is an ordinary multiply, so the
    result is bit for bit what masking and then scaling gives (a zero's sign aside)."""

    @staticmethod
    def forward(ctx: Any, x: torch.Tensor, kept: torch.Tensor, scale: float) -> torch.Tensor:
        ctx.save_for_backward(kept)
        ctx.scale = scale
        return (x * kept).mul_(scale)

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor) -> tuple[torch.Tensor, None, None]:
        (kept,) = ctx.saved_tensors
        return (grad * ctx.scale).mul_(kept), None, None


def inverted_dropout(x: torch.Tensor, p: float, training: bool) -> torch.Tensor:
    """Inverted dropout: zero elements with probability p and scale the rest by 1 / (1 - p)."""
    if not training or p == 0.0:
        return x
    return cast("torch.Tensor", _Dropped.apply(x, kept_ones(x.shape, p, x.dtype), 1.0 / (1.0 - p)))


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
    # In place: the product's backward needs the query and key, not the product.
    scores = torch.matmul(query, key.transpose(2, 3)).mul_(scale)
    if attention_mask is not None:
        if attention_mask.dtype == torch.bool:
            # Added, not masked_fill'ed (the faster pass): a score is far below half a unit in the
            # last place of the lowest number, so their sum rounds to it, as masking would set it.
            blocked = torch.zeros(attention_mask.shape, dtype=scores.dtype)
            scores = scores.add_(blocked.masked_fill_(~attention_mask, torch.finfo(scores.dtype).min))
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


__all__ = [
    "ATTENTION_NAME",
    "MaskDropout",
    "inverted_dropout",
    "keep_mask",
    "kept_ones",
    "masked_attention",
    "use_mask_dropout",
]
