"""The Reddit posts training never reads are the ones `haven screen --reddit-unseen` checks: the
two sets never overlap, and the table counts each community's holds as the screener gave them."""

from __future__ import annotations

import json
from dataclasses import dataclass

from services.moderation.screening import ScreeningInput
from services.moderation.screening.cli_screen import count_holds_by_community, format_holds_by_community
from services.moderation.screening.data import (
    EVERYDAY_PER_SUBREDDIT,
    LabeledPost,
    reddit_never_read_by_training,
    reddit_read_by_training,
)

SEED = 7


def _reddit() -> list[LabeledPost]:
    posts = []
    for name, size in (("guns", 100), ("teaching", 70), ("suicidewatch", 30), ("addiction", 20), ("depression", 40)):
        posts += [LabeledPost(f"{name}-{i}", f"{name} post {i}", f"rmhd:{name}") for i in range(size)]
    return posts


def test_training_reads_part_of_each_everyday_community_and_none_of_the_unlabelled_ones() -> None:
    reddit = _reddit()
    read = {p.id for p in reddit_read_by_training(reddit, SEED)}
    unseen = {p.id for p in reddit_never_read_by_training(reddit, SEED)}

    assert not read & unseen
    assert read | unseen == {p.id for p in reddit}
    assert sum(i.startswith("guns-") for i in read) == EVERYDAY_PER_SUBREDDIT
    assert sum(i.startswith("teaching-") for i in unseen) == 70 - EVERYDAY_PER_SUBREDDIT
    assert all(i.startswith(("suicidewatch-", "addiction-")) for i in read if not i.startswith(("guns", "teaching")))
    assert all(i.startswith("depression-") for i in unseen if not i.startswith(("guns", "teaching")))


def test_the_choice_of_everyday_posts_follows_the_seed() -> None:
    reddit = _reddit()
    first = [p.id for p in reddit_read_by_training(reddit, SEED)]

    assert first == [p.id for p in reddit_read_by_training(_reddit(), SEED)]
    assert first != [p.id for p in reddit_read_by_training(_reddit(), SEED + 1)]


@dataclass
class _Verdict:
    action: str


class _HoldsWhatSaysDanger:
    model_version = "test-model"

    def screen_batch(self, items: list[ScreeningInput]) -> list[_Verdict]:
        actions = {"danger": "hold", "now": "hold_urgent", "sad": "publish_with_resources"}
        return [_Verdict(next((a for word, a in actions.items() if word in item.text), "publish")) for item in items]


def test_holds_are_counted_by_community_with_everyday_ones_summed_apart() -> None:
    posts = [
        LabeledPost("a", "plain", "rmhd:guns"),
        LabeledPost("b", "danger", "rmhd:guns"),
        LabeledPost("c", "now", "rmhd:teaching"),
        LabeledPost("d", "sad", "rmhd:teaching"),
        LabeledPost("e", "danger", "rmhd:depression"),
    ] * 20  # more than one batch

    counts = count_holds_by_community(_HoldsWhatSaysDanger(), posts)
    table = format_holds_by_community(counts, "test-model", len(posts))
    summary = json.loads(table.splitlines()[-1])

    assert counts["guns"] == {"posts": 40, "held": 20, "urgent": 0, "resources": 0}
    assert counts["teaching"] == {"posts": 40, "held": 20, "urgent": 20, "resources": 20}
    assert summary["everyday_held"] == 0.5
    assert summary["everyday_urgent"] == 20
    assert summary["by_community"]["depression"]["held"] == 20
    assert "everyday, together" in table


def test_a_model_without_a_training_seed_or_an_unreadable_file_is_refused_plainly(tmp_path, capsys) -> None:  # type: ignore[no-untyped-def]  # pytest fixtures
    import io
    from pathlib import Path

    from services.moderation.screening.cli_screen import _reddit_unseen

    model = tmp_path / "model"
    model.mkdir()
    (model / "head.json").write_text(json.dumps({"version": "v"}))
    out = io.StringIO()
    assert _reddit_unseen(_HoldsWhatSaysDanger(), Path("-"), model, out) == 1
    assert "records no training seed" in capsys.readouterr().err

    (model / "head.json").write_text(json.dumps({"version": "v", "seed": SEED}))
    assert _reddit_unseen(_HoldsWhatSaysDanger(), tmp_path / "missing.csv", model, out) == 1
    assert "cannot read" in capsys.readouterr().err

    (tmp_path / "wrong.csv").write_text("name,body\nx,y\n")
    assert _reddit_unseen(_HoldsWhatSaysDanger(), tmp_path / "wrong.csv", model, out) == 1
    assert "cannot read" in capsys.readouterr().err
    assert out.getvalue() == ""
