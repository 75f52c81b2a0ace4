"""The heads read spans only when trained on them, and head.json says so."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from services.moderation.screening.head import (
    HEAD_NAMES,
    META_FILE,
    WINDOW_LOGIT_DISCOUNT,
    Head,
    HeadLoadError,
    Thresholds,
    combine_parts,
)


def _head(span_discount: float | None) -> Head:
    weights = np.zeros((len(HEAD_NAMES), 4), dtype=np.float32)
    weights[:, 0] = 1.0
    return Head(
        weights,
        np.zeros(len(HEAD_NAMES), dtype=np.float32),
        Thresholds(0.4, 0.4, 0.3, 0.5),
        "t",
        True,
        span_discount=span_discount,
    )


MEAN = np.array([-2.0, 0, 0, 0])
WINDOWS = np.array([[-1.0, 0, 0, 0], [-2.5, 0, 0, 0]])
SPANS = np.array([[-3.0, 0, 0, 0], [4.0, 0, 0, 0]])


def test_a_head_not_trained_on_spans_scores_as_before_spans_existed() -> None:
    scores = _head(None).post_scores(MEAN, WINDOWS, SPANS)
    expected = 1 / (1 + np.exp(-max(-2.0, -1.0 - WINDOW_LOGIT_DISCOUNT)))
    assert np.allclose(scores, expected)


def test_the_worst_span_raises_a_post_by_its_logit_less_the_discount() -> None:
    scores = _head(1.0).post_scores(MEAN, WINDOWS, SPANS)
    assert np.allclose(scores, 1 / (1 + np.exp(-3.0)))
    parts = _head(1.0).post_logits(MEAN, WINDOWS, None)
    assert np.isneginf(parts[2]).all()
    assert np.allclose(combine_parts(parts, 1.0), _head(None).post_scores(MEAN, WINDOWS))


@pytest.mark.parametrize("discount", [None, 0.0, 1.5])
def test_head_json_keeps_the_span_discount(tmp_path: Path, discount: float | None) -> None:
    _head(discount).save(tmp_path, {})
    assert Head.load(tmp_path).span_discount == discount


@pytest.mark.parametrize("bad", ["1.0", True, float("nan")])
def test_a_span_discount_that_is_not_a_number_refuses_to_load(tmp_path: Path, bad: object) -> None:
    _head(1.0).save(tmp_path, {})
    meta = json.loads((tmp_path / META_FILE).read_text())
    meta["span_logit_discount"] = bad
    (tmp_path / META_FILE).write_text(json.dumps(meta))
    with pytest.raises(HeadLoadError):
        Head.load(tmp_path)
