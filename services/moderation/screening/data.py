"""The shared screening data sets, read into one labeled form.

- screening_dev.jsonl: hand-labeled forum posts (risk level + categories).
- training/corpus/part-*.jsonl: the training corpus, written from docs/screening/labelling-guide.md
  in the forum's voice (risk level + categories + taxonomy codes). The only fully labeled
  training data: the dev set is a check, and the blind set is never used for training.
- rmhd_subreddits.csv: Reddit posts labeled only by where they were written. Used as weak
  supervision: r/suicidewatch counts as suicide risk; the everyday communities and the
  addiction/alcoholism communities count as no crisis. Other mental-health communities are
  left out of training: their posts mix ideation and ordinary distress, and no label says which.
  A Reddit post given a label by the guide (`read_guide_labels`) trains on that label instead.
"""

from __future__ import annotations

import csv
import json
import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from streams.events import CATEGORIES, DANGER_LEVELS, RISK_LEVELS

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


def default_guide_labels() -> Path:
    """The labelling guide's labels for the Reddit posts training reads (training/reddit-labels)."""
    return Path(__file__).resolve().parents[3] / "training" / "reddit-labels" / "labels.jsonl"


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
                if not isinstance(row, dict) or row.get("risk") not in RISK_LEVELS:
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


#: Risk and categories by the labelling guide, by Reddit post id.
GuideLabels = dict[str, tuple[str, tuple[str, ...]]]


def label_row_problem(row: object) -> str | None:
    """What makes one labelled JSON line unusable (an id, a risk level, a list of categories),
    or None: guide labels and `haven screen --eval` files are checked alike."""
    if not isinstance(row, dict) or not isinstance(row.get("id"), str) or row.get("risk") not in RISK_LEVELS:
        return f"each line needs a string 'id' and a 'risk' in {RISK_LEVELS}"
    if not isinstance(row.get("categories", []), list):
        return "'categories' must be a list"
    return None


def read_guide_labels(path: Path) -> GuideLabels:
    """Risk and categories given by the labelling guide to Reddit posts, by post id
    (`training/reddit-labels/*.jsonl`); training reads them in place of the subreddit's label."""
    labels: GuideLabels = {}
    for file in sorted(path.glob("*.jsonl")) if path.is_dir() else [path]:
        with file.open(encoding="utf-8") as lines:
            for number, line in enumerate(lines, start=1):
                if not line.strip():
                    continue
                row = json.loads(line)
                if problem := label_row_problem(row):
                    raise ValueError(f"{file}:{number}: {problem}")
                if row["id"] in labels:
                    raise ValueError(f"{file}:{number}: labels post {row['id']} more than once")
                labels[row["id"]] = (row["risk"], tuple(c for c in row.get("categories", []) if c in CATEGORIES))
    return labels


def read_guide_label_files(paths: Sequence[Path]) -> GuideLabels:
    """The guide labels of several files (or folders) together; a post labelled in two is refused."""
    merged: GuideLabels = {}
    for path in paths:
        labels = read_guide_labels(path)
        twice = merged.keys() & labels.keys()
        if twice:
            raise ValueError(f"{path}: {len(twice)} posts are labelled in an earlier file too, e.g. {min(twice)}")
        merged.update(labels)
    return merged


def guide_labels_trained_on(recorded: object) -> GuideLabels:
    """The guide labels a model trained on, from what its head.json records under `reddit_labels`
    (a file name or a list of them, in training/reddit-labels/); none when it records none."""
    names = [recorded] if isinstance(recorded, str) else recorded if isinstance(recorded, list) else []
    if not all(isinstance(name, str) for name in names):
        raise ValueError(f"reddit_labels must name files, not {recorded!r}")
    return read_guide_label_files([default_guide_labels().parent / name for name in names])


def with_guide_labels(posts: Sequence[LabeledPost], labels: GuideLabels) -> list[LabeledPost]:
    """The Reddit posts among `posts` that have a guide label carry it (they stay Reddit posts:
    weakly weighted, counted by subreddit); every other post is unchanged."""
    out = []
    for post in posts:
        if subreddit(post) is not None and post.id in labels:
            risk, categories = labels[post.id]
            post = LabeledPost(post.id, post.text, post.source, risk, categories)
        out.append(post)
    return out


def subreddit(post: LabeledPost) -> str | None:
    return post.source.split(":", 1)[1] if post.source.startswith("rmhd:") else None


def corpus_part(post: LabeledPost) -> str | None:
    """The training corpus file a post came from (its name without `.jsonl`), if any."""
    return post.source.split(":", 1)[1] if post.source.startswith("corpus:") else None


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
    if is_labeled(post) or post.risk is not None:  # hand-labelled, or a Reddit post with a guide label
        risk = post.risk or "none"
        targets = {
            "crisis": float(risk in DANGER_LEVELS),
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
