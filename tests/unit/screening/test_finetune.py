"""Fine-tuning learns from its examples in either arithmetic, and the bfloat16 path stays a
float32 model on disk (only the arithmetic of the forward and backward passes changes)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from services.moderation.screening.data import LabeledPost
from services.moderation.screening.encoder import DELTA_FILE, Encoder, save_delta
from services.moderation.screening.head import HEAD_NAMES, Thresholds
from services.moderation.screening.screener import Screener
from tools.training.cross_validation import TrainingSet, head_of, post_scores
from tools.training.finetune import FinetuneConfig, _TopModel, lower_states, train

DANGER = [
    "i took every pill in the bottle an hour ago and my chest feels slow",
    "tonight is the night, the rope is in my car and i wrote the letters",
    "he has the gun out again and says he will kill me before morning",
    "i am on the bridge right now and i am going to jump",
]
SAFE = [
    "ninety days sober today, made pancakes for my kids before the meeting",
    "my sponsor and i finished step four this afternoon, felt lighter",
    "anyone know a good meeting near the bus station on tuesdays?",
    "picked up my one year chip and cried in the parking lot, happy tears",
]


@pytest.fixture(scope="module")
def encoder() -> Encoder:
    return Encoder.load(threads=1, precision="fp32")


@pytest.mark.parametrize(
    ("precision", "attention_dropout", "dropout_masks"),
    [("fp32", 0.1, "torch"), ("bf16", 0.1, "torch"), ("fp32", 0.0, "torch"), ("bf16", 0.1, "words")],
    ids=["fp32", "bf16", "fused", "word-masks"],
)
def test_fine_tuning_separates_danger_from_safety_on_what_it_was_shown(
    encoder: Encoder, precision: str, attention_dropout: float, dropout_masks: str
) -> None:
    posts = [LabeledPost(f"d{i}", text, "corpus:test", "imminent", ("suicide",)) for i, text in enumerate(DANGER)] + [
        LabeledPost(f"s{i}", text, "corpus:test", "none", ()) for i, text in enumerate(SAFE)
    ]
    data = TrainingSet.of(posts)
    lower = lower_states(encoder, [p.text for p in data.posts], [2])[2]
    config = FinetuneConfig(
        top_layers=2,
        epochs=6,
        batch_size=4,
        head_lr=1e-2,
        precision=precision,
        attention_dropout=attention_dropout,
        dropout_masks=dropout_masks,
    )

    fitted = train(encoder, lower, data.targets, data.mask, data.weights, list(range(len(posts))), config)
    scores = post_scores(encoder, lower, fitted, list(range(len(posts))), precision)

    crisis = scores[:, HEAD_NAMES.index("crisis")]
    assert crisis[: len(DANGER)].min() > crisis[len(DANGER) :].max()
    assert all(array.dtype == np.float32 for array in fitted.top_state.values())
    assert set(fitted.top_state) and all(
        name.startswith(("encoder.layer.4.", "encoder.layer.5.")) for name in fitted.top_state
    )


def test_a_training_seed_is_one_reproducible_draw_of_the_recipe(encoder: Encoder) -> None:
    posts = [LabeledPost(f"d{i}", text, "corpus:test", "high", ("suicide",)) for i, text in enumerate(DANGER)] + [
        LabeledPost(f"s{i}", text, "corpus:test", "none", ()) for i, text in enumerate(SAFE)
    ]
    data = TrainingSet.of(posts)
    lower = lower_states(encoder, [p.text for p in data.posts], [1])[1]

    def head_weights(seed: int) -> np.ndarray:
        config = FinetuneConfig(top_layers=1, epochs=1, batch_size=4, seed=seed)
        return train(encoder, lower, data.targets, data.mask, data.weights, list(range(len(posts))), config).weights

    first = head_weights(1)
    assert np.array_equal(first, head_weights(1))
    assert not np.allclose(first, head_weights(2))


def test_attention_dropout_is_set_on_the_trained_copies_only(encoder: Encoder) -> None:
    top = _TopModel(encoder, split=4, config=FinetuneConfig(top_layers=2, attention_dropout=0.0))

    assert [layer.attention.self.dropout.p for layer in top.layers] == [0.0, 0.0]
    assert [layer.attention.output.dropout.p for layer in top.layers] == [0.1, 0.1], "hidden dropout stays"
    assert all(layer.attention.self.dropout.p == 0.1 for layer in encoder.model.encoder.layer)


def test_lower_states_are_the_whole_models_hidden_states_at_each_split(encoder: Encoder) -> None:
    import torch

    texts = [*DANGER, *SAFE]
    lowers = lower_states(encoder, texts, [0, 2, 6])
    windows = encoder.windows(texts)
    ids, mask = encoder.pad(windows.input_ids)
    with torch.inference_mode():
        full = encoder.model(input_ids=ids, attention_mask=mask, output_hidden_states=True).hidden_states

    for top_layers, lower in lowers.items():
        split = encoder.model.config.num_hidden_layers - top_layers
        assert lower.split_layer == split
        for row, state in enumerate(lower.states):
            expected = full[split][row, : int(mask[row].sum())].to(torch.float16)
            assert torch.equal(state, expected)


def test_a_span_trained_model_scores_at_run_time_as_cross_validation_scored_it(
    encoder: Encoder, tmp_path: Path
) -> None:
    """The out-of-fold figures that choose a model are only worth something if the screener,
    loading the saved files, computes the same scores, spans and all, for short and long posts."""
    long_post = " ".join(SAFE * 12) + " " + DANGER[0] + " " + " ".join(SAFE * 6)
    posts = [LabeledPost(f"d{i}", text, "corpus:test", "imminent", ("suicide",)) for i, text in enumerate(DANGER)] + [
        LabeledPost(f"s{i}", text, "corpus:test", "none", ()) for i, text in enumerate([*SAFE, long_post])
    ]
    data = TrainingSet.of(posts)
    texts = [p.text for p in data.posts]
    lower = lower_states(encoder, texts, [2])[2]
    assert (lower.owner == len(posts) - 1).sum() > 1, "the long post must span several windows"
    config = FinetuneConfig(top_layers=2, epochs=2, batch_size=4, span_weight=1.0)
    fitted = train(encoder, lower, data.targets, data.mask, data.weights, list(range(len(posts))), config)
    expected = post_scores(encoder, lower, fitted, list(range(len(posts))), "fp32", span_discount=0.5)

    save_delta(fitted.top_state, tmp_path / DELTA_FILE)
    run_time = Encoder.load(threads=1, delta=tmp_path / DELTA_FILE, precision="fp32")
    head = head_of(fitted, Thresholds(0.5, 0.5, 0.5, 0.5), "test", span_discount=0.5)
    screened = Screener(run_time, head).post_scores(texts)

    got = np.array([[scores[name] for name in HEAD_NAMES] for scores in screened])
    # The saved layers are float16, so the two agree closely, not bit for bit.
    assert np.abs(got - expected).max() < 0.01
    without_spans = post_scores(encoder, lower, fitted, list(range(len(posts))), "fp32", span_discount=None)
    assert not np.allclose(without_spans, expected), "the spans must have been read"
