"""Careless rewrites change how a post is typed, never what it says, and the same seed gives the
same rewrite; training reads a post's rewrite in its place only at the rate it is given."""

from __future__ import annotations

import random

import numpy as np
import pytest

from services.moderation.screening.data import LabeledPost
from services.moderation.screening.encoder import Encoder
from tools.training.careless_voice import _ENGLISH_SHORT, _abbreviate, _slips, careless
from tools.training.cross_validation import TrainingSet
from tools.training.finetune import FinetuneConfig, LowerStates, Variants, lower_states, train

ENGLISH = "I don't know what to do. I took everything in the cabinet tonight, because nobody would notice."
SPANISH = "¿Qué hago? Mañana también estaré solo, porque ya no aguanto más."


def test_the_same_seed_gives_the_same_rewrite_and_other_seeds_vary() -> None:
    assert careless(ENGLISH, "en", random.Random(3)) == careless(ENGLISH, "en", random.Random(3))
    rewrites = {careless(ENGLISH, "en", random.Random(seed)) for seed in range(30)}
    assert len(rewrites) > 10


def test_slips_keep_each_words_first_letter_and_change_one_letter_at_most() -> None:
    text = "everything tonight somebody medicine"
    slipped = _slips(text, random.Random(5), rate=1.0)
    assert slipped != text
    for before, after in zip(text.split(), slipped.split(), strict=True):
        assert after[0] == before[0]
        assert abs(len(after) - len(before)) <= 1
        assert sorted(after) == sorted(before) or len(after) != len(before)


def test_spanish_rewrites_keep_the_enye_and_the_words() -> None:
    for seed in range(30):
        rewrite = careless(SPANISH, "es", random.Random(seed))
        assert "ñ" in rewrite.lower(), rewrite
    bare = {careless(SPANISH, "es", random.Random(seed)) for seed in range(30)}
    assert any("tambien" in r.lower() or " tb " in r.lower() for r in bare), "accents are sometimes dropped"


class _Always(random.Random):
    def random(self) -> float:
        return 0.0


def test_chat_spellings_replace_whole_words_and_longer_phrases_first() -> None:
    text = "You're sure you are going to be fine? Yours truly, because I don't know"
    assert _abbreviate(text, _ENGLISH_SHORT, _Always()) == "ur sure u r gonna be fine? Yours truly, bc idk"


DANGER = [
    "i took every pill in the bottle an hour ago and my chest feels slow",
    "he has the gun out again and says he will kill me before morning",
]
SAFE = [
    "ninety days sober today, made pancakes for my kids before the meeting",
    "my sponsor and i finished step four this afternoon, felt lighter",
]


@pytest.fixture(scope="module")
def encoder() -> Encoder:
    return Encoder.load(threads=1, precision="fp32")


def test_training_reads_a_posts_variant_in_its_place_only_at_the_rate_given(encoder: Encoder) -> None:
    posts = [LabeledPost(f"d{i}", t, "corpus:test", "imminent", ("suicide",)) for i, t in enumerate(DANGER)] + [
        LabeledPost(f"s{i}", t, "corpus:test", "none", ()) for i, t in enumerate(SAFE)
    ]
    data = TrainingSet.of(posts)
    texts = [p.text for p in data.posts]
    rewrites = [careless(t, "en", random.Random(i)).upper() for i, t in enumerate(texts)]
    copies = lower_states(encoder, texts + texts, [1])[1]
    rewritten = lower_states(encoder, texts + rewrites, [1])[1]
    config = FinetuneConfig(top_layers=1, epochs=2, batch_size=2)

    def weights(lower: LowerStates, rate: float | None) -> np.ndarray:
        variants = None if rate is None else Variants(lower.first_window[len(texts) :].copy(), rate)
        fitted = train(encoder, lower, data.targets, data.mask, data.weights, range(len(texts)), config, None, variants)
        return fitted.weights

    plain = weights(rewritten, None)
    assert np.array_equal(weights(rewritten, 0.0), plain), "rate 0 never reads a variant"
    assert np.array_equal(weights(copies, 1.0), plain), "a variant with the post's own states trains the same"
    assert not np.array_equal(weights(rewritten, 1.0), plain), "rate 1 reads the rewrites"
