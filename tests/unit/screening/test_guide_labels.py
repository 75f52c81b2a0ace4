"""A Reddit post the labelling guide has labelled trains on that label instead of its
subreddit's, stays a Reddit post (its weight, its subreddit's figures), and gets figures of its
own; a malformed label file is refused, naming the line."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from services.moderation.screening.data import (
    LabeledPost,
    read_guide_labels,
    training_targets,
    with_guide_labels,
)
from services.moderation.screening.head import HEAD_NAMES, Thresholds
from tools.training.cross_validation import REDDIT_WEIGHT, TrainingSet
from tools.training.objective import Objective

WATCH_VENTING = LabeledPost("r-sw", "everyone at school ignores me and i feel so alone lately", "rmhd:suicidewatch")
RECOVERY_CRISIS = LabeledPost(
    "r-rec", "day 2 no drink after a fifth a day, shaking and seeing things", "rmhd:alcoholism"
)
CORPUS = LabeledPost("c-1", "ninety days today and i slept all night", "corpus:part-test", "none", ())
LABELS = {"r-sw": ("concern", ()), "r-rec": ("imminent", ("medical", "relapse")), "c-1": ("imminent", ())}


def test_guide_labels_replace_the_subreddits_label_for_reddit_posts_only() -> None:
    watch, recovery, corpus = with_guide_labels([WATCH_VENTING, RECOVERY_CRISIS, CORPUS], LABELS)
    assert training_targets(WATCH_VENTING)["crisis"] == 1.0, "precondition: the subreddit says crisis"
    assert (training_targets(watch)["crisis"], training_targets(watch)["concern"]) == (0.0, 1.0)
    assert training_targets(watch)["suicide"] == 0.0, "concern about loneliness, not suicide"
    assert training_targets(recovery)["crisis"] == training_targets(recovery)["imminent"] == 1.0
    assert training_targets(recovery)["medical"] == 1.0
    assert corpus == CORPUS, "a hand-labelled post keeps its own label"
    assert watch.source == "rmhd:suicidewatch" and recovery.source == "rmhd:alcoholism"


def test_a_guide_labelled_reddit_post_keeps_its_weight_and_its_short_reading() -> None:
    data = TrainingSet.of(with_guide_labels([CORPUS, WATCH_VENTING, RECOVERY_CRISIS], LABELS))
    by_id = {p.id: i for i, p in enumerate(data.posts)}
    assert data.weights[by_id["r-rec"]] == REDDIT_WEIGHT
    assert data.weakly_labeled[by_id["r-rec"]], "read to the Reddit token limit, like any Reddit post"
    imminent = HEAD_NAMES.index("imminent")
    assert data.mask[by_id["r-rec"], imminent] == 1 and data.targets[by_id["r-rec"], imminent] == 1


def test_guide_figures_count_reddit_posts_by_their_guide_label() -> None:
    posts = with_guide_labels([CORPUS, WATCH_VENTING, RECOVERY_CRISIS], LABELS)
    scores = np.zeros((3, len(HEAD_NAMES)))
    scores[1, HEAD_NAMES.index("crisis")] = 0.9  # the venting post is held, the withdrawal post is not
    figures = Objective(posts, scores).figures(Thresholds(0.5, 0.5, 0.5, 0.5))
    assert figures["reddit_guide_recall"] == 0.0 and figures["reddit_guide_false_holds"] == 1.0
    assert figures["suicidewatch_held"] == 1.0, "the subreddit's figure is still counted by subreddit"
    assert "reddit_guide_recall" not in Objective([CORPUS], scores[:1]).figures(Thresholds(0.5, 0.5, 0.5, 0.5))


def test_a_label_without_a_known_risk_is_refused_naming_its_line(tmp_path: Path) -> None:
    path = tmp_path / "labels.jsonl"
    path.write_text(
        json.dumps({"id": "r-1", "risk": "none"}) + "\n" + json.dumps({"id": "r-2", "risk": "urgent"}) + "\n"
    )
    with pytest.raises(ValueError, match=r"labels.jsonl:2"):
        read_guide_labels(path)
    path.write_text(json.dumps({"id": "r-1", "risk": "high", "categories": ["suicide", "made-up"]}) + "\n")
    assert read_guide_labels(tmp_path) == {"r-1": ("high", ("suicide",))}


def test_the_shipped_guide_labels_cover_exactly_the_reddit_posts_training_reads_from_three_communities() -> None:
    from services.moderation.screening.data import (
        default_data_dir,
        default_guide_labels,
        read_rmhd,
        reddit_read_by_training,
        subreddit,
    )
    from tools.training.cross_validation import SEED

    labels = read_guide_labels(default_guide_labels())
    read = reddit_read_by_training(read_rmhd(default_data_dir() / "rmhd_subreddits.csv"), SEED)
    assert set(labels) == {p.id for p in read if subreddit(p) in {"suicidewatch", "addiction", "alcoholism"}}
    assert len(labels) == 480


def test_several_label_files_are_read_together_and_a_post_labelled_twice_is_refused(tmp_path: Path) -> None:
    from services.moderation.screening.data import read_guide_label_files

    first, second, again = tmp_path / "a.jsonl", tmp_path / "b.jsonl", tmp_path / "c.jsonl"
    first.write_text(json.dumps({"id": "r-sw", "risk": "concern"}) + "\n")
    second.write_text(json.dumps({"id": "r-dep", "risk": "high", "categories": ["suicide"]}) + "\n")
    again.write_text(json.dumps({"id": "r-sw", "risk": "high"}) + "\n")

    assert read_guide_label_files([first, second]) == {"r-sw": ("concern", ()), "r-dep": ("high", ("suicide",))}
    with pytest.raises(ValueError, match="labelled in an earlier file too"):
        read_guide_label_files([first, again])


def test_a_models_record_of_its_guide_labels_names_the_posts_it_trained_on() -> None:
    from services.moderation.screening.data import default_guide_labels, guide_labels_trained_on

    shipped_file = default_guide_labels().name
    assert guide_labels_trained_on(None) == {}
    assert guide_labels_trained_on(shipped_file) == read_guide_labels(default_guide_labels())
    assert guide_labels_trained_on([shipped_file]) == read_guide_labels(default_guide_labels())
    with pytest.raises(ValueError):
        guide_labels_trained_on([3])
    with pytest.raises(OSError):
        guide_labels_trained_on(["no-such-labels.jsonl"])
