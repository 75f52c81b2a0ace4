"""Posts labelled only by their subreddit weigh less than hand-labelled ones in the loss, by a
weight `haven train-screener --reddit-weight` can change; scoring never reads it."""

from __future__ import annotations

from services.moderation.screening.data import LabeledPost
from tools.training.cross_validation import REDDIT_WEIGHT, TrainingSet

POSTS = [
    LabeledPost("c-1", "ninety days today and i slept all night", "corpus:part-test", "none", ()),
    LabeledPost("c-2", "i have the pills counted out tonight", "corpus:part-test", "imminent", ("suicide",)),
    LabeledPost("r-1", "i don't see a way out anymore", "rmhd:suicidewatch"),
    LabeledPost("r-2", "day 12 without a drink, cravings at night", "rmhd:alcoholism"),
]


def _weight_by_id(data: TrainingSet) -> dict[str, float]:
    return {post.id: float(weight) for post, weight in zip(data.posts, data.weights, strict=True)}


def test_reddit_posts_weigh_the_recipes_weight_and_hand_labels_one() -> None:
    weights = _weight_by_id(TrainingSet.of(POSTS))
    assert weights == {"c-1": 1.0, "c-2": 1.0, "r-1": REDDIT_WEIGHT, "r-2": REDDIT_WEIGHT}
    assert REDDIT_WEIGHT == 0.5, "the shipped recipe's"


def test_a_given_reddit_weight_changes_the_reddit_posts_only() -> None:
    same = TrainingSet.of(POSTS, reddit_weight=1.0)
    assert _weight_by_id(same) == {"c-1": 1.0, "c-2": 1.0, "r-1": 1.0, "r-2": 1.0}
    shipped = TrainingSet.of(POSTS)
    assert (same.targets == shipped.targets).all() and (same.mask == shipped.mask).all()


def test_a_real_crisis_factor_weighs_only_the_reddit_posts_the_guide_labels_a_crisis() -> None:
    guide_labelled = [
        *POSTS,
        LabeledPost(
            "r-3", "i took everything in the cabinet an hour ago", "rmhd:depression", "imminent", ("overdose",)
        ),
        LabeledPost("r-4", "some days i wish i could disappear for a while", "rmhd:lonely", "concern", ("suicide",)),
    ]
    weights = _weight_by_id(TrainingSet.of(guide_labelled, real_crisis_factor=2.0))
    assert weights["r-3"] == 2.0 * REDDIT_WEIGHT
    assert weights["r-4"] == weights["r-1"] == weights["r-2"] == REDDIT_WEIGHT
    assert weights["c-2"] == 1.0, "a hand-labelled crisis keeps its weight"
    assert _weight_by_id(TrainingSet.of(guide_labelled))["r-3"] == REDDIT_WEIGHT, "the shipped recipe's"
