"""`haven screen --cssrs` counts a clinician-labelled user as flagged when any of their posts is
held, and refuses a file that is not in the set's format rather than guessing."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest

from services.moderation.screening import Screener
from services.moderation.screening.cli_screen import _evaluate_cssrs
from services.moderation.screening.cssrs import (
    LEVELS,
    UnreadableUsers,
    flagged_by_level,
    read_users,
    summary,
)


def _write(path: Path, rows: list[tuple[str, list[str] | str, str]]) -> Path:
    with path.open("w", encoding="utf-8", newline="") as sink:
        writer = csv.writer(sink)
        writer.writerow(["User", "Post", "Label"])
        for user, posts, label in rows:
            writer.writerow([user, posts if isinstance(posts, str) else repr(posts), label])
    return path


def test_users_are_read_with_their_posts_and_labels(tmp_path: Path) -> None:
    path = _write(
        tmp_path / "users.csv",
        [("user-0", ["first post", "  ", "second post"], "Ideation"), ("user-1", ["hang in there"], "Supportive")],
    )
    users = read_users(path)
    assert [(u.user, u.label, u.posts) for u in users] == [
        ("user-0", "Ideation", ("first post", "second post")),
        ("user-1", "Supportive", ("hang in there",)),
    ]


@pytest.mark.parametrize(
    ("posts", "label", "problem"),
    [
        (["a post"], "Worried", "unknown label"),
        ("not a list", "Ideation", "not a list of strings"),
        ("[1, 2]", "Ideation", "not a list of strings"),
        ("__import__('os').system('true')", "Ideation", "not a list of strings"),
    ],
)
def test_a_row_out_of_format_is_refused_with_its_line(
    tmp_path: Path, posts: list[str] | str, label: str, problem: str
) -> None:
    path = _write(tmp_path / "users.csv", [("user-0", ["fine"], "Attempt"), ("user-1", posts, label)])
    with pytest.raises(UnreadableUsers, match=f"line 3: .*{problem}"):
        read_users(path)


def test_a_file_without_the_columns_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "other.csv"
    path.write_text("id,text\n1,hello\n", encoding="utf-8")
    with pytest.raises(UnreadableUsers, match="no column Label, Post, User"):
        read_users(path)


def test_a_user_is_flagged_when_any_post_is_held(tmp_path: Path) -> None:
    path = _write(
        tmp_path / "users.csv",
        [
            ("a", ["calm", "danger"], "Ideation"),
            ("b", ["calm", "calm"], "Behavior"),
            ("c", ["sad"], "Supportive"),
            ("d", ["danger now"], "Supportive"),
        ],
    )
    rule = {"danger now": "hold_urgent", "danger": "hold", "sad": "publish_with_resources"}
    counts = flagged_by_level(read_users(path), lambda texts: [rule.get(t, "publish") for t in texts])

    assert (counts["Ideation"].users, counts["Ideation"].flagged) == (1, 1)
    assert (counts["Behavior"].users, counts["Behavior"].flagged) == (1, 0)
    assert (counts["Supportive"].users, counts["Supportive"].flagged) == (2, 1), "resources alone do not flag"
    assert set(counts) == set(LEVELS)
    assert summary(counts) == {
        "at_risk_users": 2,
        "at_risk_flagged": 0.5,
        "supportive_users": 2,
        "supportive_flagged": 0.5,
    }


def test_the_real_screener_flags_a_user_in_danger_and_not_one_who_supports(screener: Screener, tmp_path: Path) -> None:
    path = _write(
        tmp_path / "users.csv",
        [
            ("in-danger", ["Rough week at work.", "The pills are in my hand and I'm ending it tonight."], "Attempt"),
            ("supporter", ["Sending you strength. Day 40 sober here, it gets easier, keep going."], "Supportive"),
        ],
    )
    out = io.StringIO()
    assert _evaluate_cssrs(screener, path, out) == 0
    figures = json.loads(out.getvalue().splitlines()[-1])
    assert figures["by_label"]["Attempt"] == {"users": 1, "flagged": 1}
    assert figures["by_label"]["Supportive"] == {"users": 1, "flagged": 0}
    assert figures["model_version"] == screener.model_version
