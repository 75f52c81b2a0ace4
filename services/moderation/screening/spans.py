"""Span pooling: besides the mean of a whole window, the mean of each short run of its tokens.

A crisis told in one sentence of a 150-word post is one part in ten of the window's mean, and
is averaged away. A span's vector is pooled from the same forward pass, so every token in it
has read the whole window: the sentence is judged in its context, not cut out of it (scoring
sentences cut out of their posts held ordinary recovery posts; see MODEL_CARD.md).

Spans start every `SPAN_STRIDE` tokens and run `SPAN_TOKENS`; one more span ends at the last
token, so every token is in some span. A row's spans do not depend on how wide its batch was
padded, so training batches and run-time batches pool a window alike.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import torch

SPAN_TOKENS = 32
SPAN_STRIDE = 16


def span_vectors(
    hidden: torch.Tensor, mask: torch.Tensor, span: int = SPAN_TOKENS, stride: int = SPAN_STRIDE
) -> tuple[torch.Tensor, torch.Tensor]:
    """Unit-length mean vectors of each span of each row, (rows, spans, hidden), and which of
    them are real, (rows, spans): a span is real if it starts the row or lies wholly inside it."""
    import torch

    weights = mask.to(hidden.dtype)
    # Prefix sums with a leading zero: the sum of tokens [s, e) is prefix[e] - prefix[s].
    prefix = torch.nn.functional.pad(torch.cumsum(hidden * weights.unsqueeze(-1), dim=1), (0, 0, 1, 0))
    counts = torch.nn.functional.pad(torch.cumsum(weights, dim=1), (1, 0))
    width = hidden.shape[1]
    starts = torch.arange(0, max(1, width - span + stride), stride)
    ends = torch.clamp(starts + span, max=width)
    lengths = mask.sum(dim=1)
    rows = torch.arange(hidden.shape[0])
    tail_start = torch.clamp(lengths - span, min=0)
    sums = torch.cat(
        [prefix[:, ends] - prefix[:, starts], (prefix[rows, lengths] - prefix[rows, tail_start]).unsqueeze(1)], dim=1
    )
    sizes = torch.cat(
        [counts[:, ends] - counts[:, starts], (counts[rows, lengths] - counts[rows, tail_start]).unsqueeze(1)], dim=1
    )
    real = torch.cat(
        [
            (starts == 0).unsqueeze(0) | (starts + span <= lengths.unsqueeze(1)),
            torch.ones_like(lengths, dtype=torch.bool).unsqueeze(1),
        ],
        dim=1,
    )
    vectors = torch.nn.functional.normalize(sums / sizes.clamp(min=1).unsqueeze(-1), dim=-1)
    return vectors, real & (sizes > 0)
