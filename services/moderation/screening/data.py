"""The shared screening data sets, read into one labeled form.

- screening_dev.jsonl: hand-labeled forum posts (risk level + categories).
- training/corpus/part-*.jsonl: the training corpus, written from docs/screening/labelling-guide.md
  in the forum's voice (risk level + categories + taxonomy codes). The only fully labeled
  training data: the dev set is a check, and the blind set is never used for training.
- rmhd_subreddits.csv: Reddit posts labeled only by where they were written. Used as weak
  supervision: r/suicidewatch counts as suicide risk; the everyday communities and the
  addiction/alcoholism communities count as no crisis. Other mental-health communities are
  left out of training: their posts mix ideation and ordinary distress, and no label says which.
"""

from __future__ import annotations

import csv
import json
import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from streams.events import CATEGORIES

EVERYDAY_SUBREDDITS = frozenset(
    {
        "personalfinance",
        "UKPersonalFinance",
        "teaching",
        "ukpolitics",
        "unitedkingdom",
        "conspiracy",
        "guns",
        "mindfulness",
    }
)
RECOVERY_SUBREDDITS = frozenset({"addiction", "alcoholism"})
CRISIS_SUBREDDIT = "suicidewatch"


@dataclass(frozen=True)
class LabeledPost:
    id: str
    text: str
    source: str  # "dev", "corpus:<part>" or "rmhd:<subreddit>"
    risk: str | None = None  # None when only weakly labeled
    categories: tuple[str, ...] = field(default_factory=tuple)
    language: str | None = None  # "en" or "es" where the corpus says
    voice: str | None = None  # how the corpus says it is typed: plain, lowercase, typo, formal, ...


def default_data_dir() -> Path:
    return Path(__file__).resolve().parents[3].parent / "shared" / "data"


def read_dev(path: Path) -> list[LabeledPost]:
    posts = []
    with path.open(encoding="utf-8") as lines:
        for line in lines:
            if line.strip():
                row = json.loads(line)
                categories = tuple(c for c in row.get("categories", []) if c in CATEGORIES)
                posts.append(LabeledPost(row["id"], row["text"], "dev", row["risk"], categories))
    return posts


def default_corpus_dir() -> Path:
    return Path(__file__).resolve().parents[3] / "training" / "corpus"


def read_corpus(directory: Path) -> list[LabeledPost]:
    """Every labeled line of `part-*.jsonl` in `directory`; a line still being written is skipped."""
    posts = []
    for path in sorted(directory.glob("part-*.jsonl")):
        with path.open(encoding="utf-8") as lines:
            for line in lines:
                try:
                    row = json.loads(line)
                except ValueError:
                    continue  # a half-written last line
                if not isinstance(row, dict) or row.get("risk") not in ("none", "concern", "high", "imminent"):
                    continue
                if not isinstance(row.get("text"), str) or not row["text"].strip():
                    continue
                categories = tuple(c for c in row.get("categories", []) if c in CATEGORIES)
                language = row.get("language") if isinstance(row.get("language"), str) else None
                voice = row.get("voice") if isinstance(row.get("voice"), str) else None
                posts.append(
                    LabeledPost(
                        str(row["id"]), row["text"], f"corpus:{path.stem}", row["risk"], categories, language, voice
                    )
                )
    return posts


def is_labeled(post: LabeledPost) -> bool:
    """Hand-labeled (dev or corpus), as opposed to weakly labeled by subreddit."""
    return post.source == "dev" or post.source.startswith("corpus:")


def read_rmhd(path: Path) -> list[LabeledPost]:
    with path.open(encoding="utf-8", newline="") as handle:
        return [LabeledPost(r["id"], r["text"], f"rmhd:{r['subreddit']}") for r in csv.DictReader(handle)]


def subreddit(post: LabeledPost) -> str | None:
    return post.source.split(":", 1)[1] if post.source.startswith("rmhd:") else None


#: Reddit posts per everyday community (of 160) that training reads: eight communities of ordinary
#: text teach "not crisis" with far fewer posts, and each Reddit post costs several forum posts of
#: compute. r/suicidewatch, r/addiction and r/alcoholism are read whole.
EVERYDAY_PER_SUBREDDIT = 60


def reddit_read_by_training(reddit: Sequence[LabeledPost], seed: int) -> list[LabeledPost]:
    """The Reddit posts training reads, in the order it reads them: every post of a community it
    has targets for, except that each everyday community gives only `EVERYDAY_PER_SUBREDDIT` of
    a seeded shuffle. The rest (`reddit_never_read_by_training`) are checks no model has seen."""
    rng = random.Random(seed)
    read: list[LabeledPost] = []
    everyday: dict[str, list[LabeledPost]] = {}
    for post in reddit:
        name = subreddit(post)
        if name is None or training_targets(post) is None:
            continue
        if name in EVERYDAY_SUBREDDITS:
            everyday.setdefault(name, []).append(post)
        else:
            read.append(post)
    for name in sorted(everyday):
        group = everyday[name]
        rng.shuffle(group)
        read.extend(group[:EVERYDAY_PER_SUBREDDIT])
    return read


def reddit_never_read_by_training(reddit: Sequence[LabeledPost], seed: int) -> list[LabeledPost]:
    """The Reddit posts no model trained with `seed` has seen, in file order."""
    read = {post.id for post in reddit_read_by_training(reddit, seed)}
    return [post for post in reddit if post.id not in read]


def training_targets(post: LabeledPost) -> dict[str, float] | None:
    """Binary targets per head for one post; None when the post is not used for training."""
    if is_labeled(post):
        risk = post.risk or "none"
        targets = {
            "crisis": float(risk in ("high", "imminent")),
            "imminent": float(risk == "imminent"),
            "concern": float(risk != "none"),
        }
        for category in CATEGORIES:
            # Categories on a `none` post only say what it is about, in a safe context.
            targets[category] = float(category in post.categories and risk != "none")
        return targets
    sub = subreddit(post)
    if sub == CRISIS_SUBREDDIT:
        return {"crisis": 1.0, "concern": 1.0, "suicide": 1.0}
    if sub in EVERYDAY_SUBREDDITS:
        targets = {"crisis": 0.0, "imminent": 0.0, "concern": 0.0}
        targets.update({category: 0.0 for category in CATEGORIES})
        return targets
    if sub in RECOVERY_SUBREDDITS:
        return {"crisis": 0.0, "imminent": 0.0, "suicide": 0.0, "self_harm": 0.0}
    return None
