"""Fine-tuning learns from its examples in either arithmetic, and the bfloat16 path stays a
float32 model on disk (only the arithmetic of the forward and backward passes changes)."""

from __future__ import annotations

import numpy as np
import pytest

from services.moderation.screening.data import LabeledPost
from services.moderation.screening.encoder import Encoder
from services.moderation.screening.head import HEAD_NAMES
from tools.training.cross_validation import TrainingSet, post_scores
from tools.training.finetune import FinetuneConfig, lower_states, train

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


@pytest.mark.parametrize("precision", ["fp32", "bf16"])
def test_fine_tuning_separates_danger_from_safety_on_what_it_was_shown(encoder: Encoder, precision: str) -> None:
    posts = [LabeledPost(f"d{i}", text, "corpus:test", "imminent", ("suicide",)) for i, text in enumerate(DANGER)] + [
        LabeledPost(f"s{i}", text, "corpus:test", "none", ()) for i, text in enumerate(SAFE)
    ]
    data = TrainingSet.of(posts)
    lower = lower_states(encoder, [p.text for p in data.posts], [2])[2]
    config = FinetuneConfig(top_layers=2, epochs=6, batch_size=4, head_lr=1e-2, precision=precision)

    fitted = train(encoder, lower, data.targets, data.mask, data.weights, list(range(len(posts))), config)
    scores = post_scores(encoder, lower, fitted, list(range(len(posts))), precision)

    crisis = scores[:, HEAD_NAMES.index("crisis")]
    assert crisis[: len(DANGER)].min() > crisis[len(DANGER) :].max()
    assert all(array.dtype == np.float32 for array in fitted.top_state.values())
    assert set(fitted.top_state) and all(
        name.startswith(("encoder.layer.4.", "encoder.layer.5.")) for name in fitted.top_state
    )


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
