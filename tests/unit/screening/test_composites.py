"""Composed long posts carry their core's label among ordinary posts of its language, fit one
window, and a fit only ever sees those built from its own training posts."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from services.moderation.screening.data import LabeledPost, default_corpus_dir, read_corpus
from tools.training.composites import FILLER_MAX_WORDS, compose, usable
from tools.training.cross_validation import TrainingSet


def _within_words(limit: int) -> Callable[[str], bool]:
    """A stand-in for the tokenizer's one-window check."""
    return lambda text: len(text.split()) <= limit


def test_each_composed_post_is_its_core_among_short_ordinary_posts_of_its_language() -> None:
    posts = read_corpus(default_corpus_dir())
    composed = compose(posts, 200, seed=5, fits=_within_words(150))

    assert len(composed) >= 180, "most cores fit one window with at least two fillers"
    for post in composed:
        assert post.core in post.sources and 3 <= len(post.sources) <= 5
        assert post.text == " ".join(posts[i].text.strip() for i in post.sources)
        assert len(post.text.split()) <= 150
        for filler in (posts[i] for i in post.sources if i != post.core):
            assert filler.risk == "none" and filler.language == posts[post.core].language
            assert len(filler.text.split()) <= FILLER_MAX_WORDS
    positions = {post.sources.index(post.core) for post in composed}
    assert len(positions) >= 4, "the core is not always first or last"
    assert {posts[p.core].risk for p in composed} == {"none", "concern", "high", "imminent"}


def test_fillers_are_dropped_until_the_post_fits_and_a_post_that_cannot_fit_is_left_out() -> None:
    posts = [
        LabeledPost("core", "i have the pills here and tonight is the night", "corpus:t", "imminent", (), "en"),
        *(
            LabeledPost(f"f{n}", f"walked the dog around the park number {n}", "corpus:t", "none", (), "en")
            for n in range(6)
        ),
    ]
    tight = compose(posts, 20, seed=1, fits=_within_words(30))
    assert tight and all(len(p.sources) == 3 for p in tight)
    assert compose(posts, 20, seed=1, fits=_within_words(10)) == []


def test_a_spanish_core_never_gets_english_fillers() -> None:
    posts = [
        LabeledPost("es", "ya me tomé todas las pastillas", "corpus:t", "imminent", (), "es"),
        *(LabeledPost(f"en{n}", f"ordinary day at work number {n}", "corpus:t", "none", (), "en") for n in range(5)),
    ]
    assert all(posts[p.core].language == "en" for p in compose(posts, 30, seed=2, fits=_within_words(200)))


def test_a_fit_uses_only_composed_posts_built_from_its_own_training_posts() -> None:
    posts = read_corpus(default_corpus_dir())
    composed = compose(posts, 500, seed=5, fits=_within_words(150))
    training = set(range(0, len(posts), 3)) | set(range(1, len(posts), 3))

    picked = usable(composed, training, limit=60, seed=9)

    assert 0 < len(picked) <= 60
    assert all(set(composed[n].sources) <= training for n in picked)
    assert usable(composed, training, limit=60, seed=9) == picked, "seeded"


def test_composed_posts_train_with_their_cores_targets() -> None:
    posts = read_corpus(default_corpus_dir())[:400]
    data = TrainingSet.of(posts)
    composed = compose(data.posts, 30, seed=3, fits=_within_words(150))

    augmented = data.with_composed(composed)

    assert len(augmented.posts) == len(data.posts) + len(composed)
    assert augmented.posts[: len(data.posts)] == data.posts
    cores = [c.core for c in composed]
    assert np.array_equal(augmented.targets[len(data.posts) :], data.targets[cores])
    assert not augmented.weakly_labeled[len(data.posts) :].any()
    assert data.with_composed([]) is data
