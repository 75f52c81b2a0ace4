"""The frozen real-post check set labels real Reddit posts that no training run reads, each once,
by the guide's levels, and is unchanged since it was frozen."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from services.moderation.screening.data import (
    RISK_LEVELS,
    default_data_dir,
    read_guide_labels,
    read_rmhd,
    reddit_read_by_training,
    subreddit,
)
from streams.events import CATEGORIES

REPO = Path(__file__).resolve().parents[3]
REDDIT_GUIDE_SET = REPO / "tests" / "data" / "screening_reddit_guide.jsonl"
FROZEN_SHA256 = "d36e2559a6c8ca967aba3617f2d67e94e266cb70c4be5dc953e78a1ccefb1201"


def _labels() -> list[dict[str, Any]]:
    return [json.loads(line) for line in REDDIT_GUIDE_SET.read_text(encoding="utf-8").splitlines()]


def test_the_set_is_unchanged_since_it_was_frozen() -> None:
    assert hashlib.sha256(REDDIT_GUIDE_SET.read_bytes()).hexdigest() == FROZEN_SHA256


def test_every_post_is_a_real_post_that_no_seed_of_training_reads() -> None:
    reddit = read_rmhd(default_data_dir() / "rmhd_subreddits.csv")
    labels = _labels()
    ids = [row["id"] for row in labels]
    community = {post.id: subreddit(post) for post in reddit}

    assert len(ids) == len(set(ids)) == 480
    assert all(i in community for i in ids)
    for seed in (0, 7, 13):
        assert not set(ids) & {post.id for post in reddit_read_by_training(reddit, seed)}
    assert {community[i] for i in ids} == {
        "depression", "lonely", "ForeverAlone", "mentalhealth", "bpd", "ptsd", "bipolarreddit", "EDAnonymous"
    }  # fmt: skip


def test_every_label_is_a_guide_level_with_known_categories() -> None:
    for row in _labels():
        assert row["risk"] in RISK_LEVELS
        assert isinstance(row["categories"], list) and set(row["categories"]) <= set(CATEGORIES)
        assert isinstance(row["codes"], list) and row["codes"]


def test_no_post_of_the_set_is_in_a_file_training_may_read() -> None:
    frozen = {row["id"] for row in _labels()}
    for name in ("labels.jsonl", "distress.jsonl", "communities.jsonl"):
        assert not frozen & set(read_guide_labels(REPO / "training" / "reddit-labels" / name)), name
