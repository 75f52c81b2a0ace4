"""Folds dealt by post id: a candidate corpus with posts added is cross-validated on the same
folds as its baseline, so the two runs' out-of-fold scores compare post by post."""

from __future__ import annotations

import numpy as np
import pytest

from services.moderation.screening.data import LabeledPost
from tools.training.cross_validation import TrainingSet, fold_of_id, fold_splits


def _posts(prefix: str, count: int) -> list[LabeledPost]:
    risks = ["none", "concern", "high", "imminent"]
    return [
        LabeledPost(f"{prefix}-{n}", f"post number {n}", "corpus:part-test", risks[n % 4], ()) for n in range(count)
    ]


def _fold_by_post(data: TrainingSet, assignment: str) -> dict[str, int]:
    return {
        data.posts[i].id: fold
        for fold, (_, held_out) in enumerate(fold_splits(data, 3, assignment))
        for i in held_out.tolist()
    }


def test_every_post_is_held_out_exactly_once_and_trained_on_in_the_other_folds() -> None:
    data = TrainingSet.of(_posts("p", 300))
    for train, held_out in fold_splits(data, 3, "by-id"):
        assert not set(train.tolist()) & set(held_out.tolist())
        assert len(train) + len(held_out) == 300
    held = np.concatenate([held_out for _, held_out in fold_splits(data, 3, "by-id")])
    assert sorted(held.tolist()) == list(range(300))


def test_adding_posts_keeps_every_old_post_in_its_fold_by_id_but_not_stratified() -> None:
    before = TrainingSet.of(_posts("p", 300))
    after = TrainingSet.of(_posts("p", 300) + _posts("added", 60))

    by_id_before, by_id_after = _fold_by_post(before, "by-id"), _fold_by_post(after, "by-id")
    assert all(by_id_after[post] == fold for post, fold in by_id_before.items())

    stratified_before, stratified_after = _fold_by_post(before, "stratified"), _fold_by_post(after, "stratified")
    moved = sum(stratified_after[post] != fold for post, fold in stratified_before.items())
    assert moved > 30, "the reason by-id exists: a stratified shuffle redeals old posts"


def test_folds_by_id_are_about_equal_in_size() -> None:
    sizes = np.bincount([fold_of_id(f"post-{n}", 3) for n in range(3000)], minlength=3)
    assert sizes.min() > 900 and sizes.max() < 1100


def test_an_unknown_assignment_is_refused() -> None:
    with pytest.raises(ValueError, match="fold assignment"):
        fold_splits(TrainingSet.of(_posts("p", 30)), 3, "alphabetical")
