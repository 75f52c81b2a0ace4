"""A model's name tells apart models trained on the same day from different data."""

from __future__ import annotations

from datetime import date

from services.moderation.screening.data import LabeledPost
from tools.training.cross_validation import model_version

DAY = date(2026, 12, 3)
POSTS = [LabeledPost("a", "first post", "corpus:x", "none"), LabeledPost("b", "second post", "corpus:x", "high")]


def test_same_data_same_name_whatever_the_order() -> None:
    assert model_version(DAY, 6, POSTS) == model_version(DAY, 6, list(reversed(POSTS)))
    assert model_version(DAY, 6, POSTS).startswith("minilm-l6-v2-ft6+heads-2026-12-03-")


def test_a_relabelled_or_added_post_changes_the_name() -> None:
    relabelled = [POSTS[0], LabeledPost("b", "second post", "corpus:x", "imminent")]
    added = [*POSTS, LabeledPost("c", "third post", "corpus:y", "none")]
    names = {model_version(DAY, 6, POSTS), model_version(DAY, 6, relabelled), model_version(DAY, 6, added)}
    assert len(names) == 3
    assert model_version(DAY, 0, POSTS) != model_version(DAY, 6, POSTS)


def test_the_name_says_which_encoder_was_fine_tuned() -> None:
    from services.moderation.screening.encoder import MULTILINGUAL_E5

    assert model_version(DAY, 6, POSTS, encoder=MULTILINGUAL_E5).startswith("me5-small-q4-ft6+heads-2026-12-03-")


def test_the_same_data_trained_by_another_recipe_gets_another_name() -> None:
    shipped = {"epochs": 3, "precision": "bf16", "span_weight": 0.0}
    assert model_version(DAY, 6, POSTS, recipe=shipped) == model_version(DAY, 6, POSTS, recipe=dict(shipped))
    assert model_version(DAY, 6, POSTS, recipe=shipped) != model_version(
        DAY, 6, POSTS, recipe={**shipped, "span_weight": 1.0}
    )
    assert model_version(DAY, 6, POSTS, recipe=shipped) != model_version(
        DAY, 6, POSTS, recipe={**shipped, "precision": "fp32"}
    )
