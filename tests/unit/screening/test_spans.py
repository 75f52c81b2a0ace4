"""Span pooling reads every token of a window in short runs, and pools a window alike however
wide its batch was padded, so training batches and run-time batches agree."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")

from services.moderation.screening.spans import SPAN_STRIDE, SPAN_TOKENS, span_vectors  # noqa: E402


def _batch(lengths: list[int], width: int, seed: int = 7) -> tuple[torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(seed)
    hidden = torch.randn((len(lengths), width, 8), generator=generator)
    mask = torch.zeros((len(lengths), width), dtype=torch.long)
    for row, length in enumerate(lengths):
        mask[row, :length] = 1
    return hidden, mask


def _unit_mean(rows: torch.Tensor) -> torch.Tensor:
    return torch.nn.functional.normalize(rows.mean(dim=0), dim=0)


def test_a_span_is_the_unit_mean_of_its_tokens() -> None:
    hidden, mask = _batch([100], 100)
    vectors, real = span_vectors(hidden, mask)

    assert torch.allclose(vectors[0, 0], _unit_mean(hidden[0, :SPAN_TOKENS]), atol=1e-5)
    assert torch.allclose(vectors[0, 1], _unit_mean(hidden[0, SPAN_STRIDE : SPAN_STRIDE + SPAN_TOKENS]), atol=1e-5)
    assert torch.allclose(vectors[0, -1], _unit_mean(hidden[0, 100 - SPAN_TOKENS :]), atol=1e-5)
    assert bool(real[0, 0]) and bool(real[0, -1])


def test_a_row_shorter_than_a_span_is_pooled_whole_and_padding_is_never_read() -> None:
    hidden, mask = _batch([9, 120], 120)
    vectors, real = span_vectors(hidden, mask)

    whole = _unit_mean(hidden[0, :9])
    assert torch.allclose(vectors[0, 0], whole, atol=1e-5)
    assert torch.allclose(vectors[0, -1], whole, atol=1e-5)
    assert int(real[0].sum()) == 2


@pytest.mark.parametrize("length", [5, 32, 33, 57, 200, 256])
def test_a_rows_spans_do_not_depend_on_how_wide_its_batch_was_padded(length: int) -> None:
    hidden, mask = _batch([length, 256], 256)
    padded, padded_real = span_vectors(hidden, mask)
    alone, alone_real = span_vectors(hidden[:1, :length], mask[:1, :length])

    assert torch.allclose(padded[0][padded_real[0]], alone[0][alone_real[0]], atol=1e-5)


@pytest.mark.parametrize("length", [5, 40, 77, 256])
def test_every_token_is_in_some_real_span(length: int) -> None:
    hidden, mask = _batch([length], length)
    _, real = span_vectors(hidden, mask)
    width = hidden.shape[1]
    starts = list(range(0, max(1, width - SPAN_TOKENS + SPAN_STRIDE), SPAN_STRIDE))
    covered: set[int] = set()
    for index, start in enumerate(starts):
        if real[0, index]:
            covered.update(range(start, min(start + SPAN_TOKENS, length)))
    covered.update(range(max(0, length - SPAN_TOKENS), length))  # the span ending at the last token

    assert covered == set(range(length))
