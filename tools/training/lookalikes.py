"""What the screening view changes: `python -m tools.training.lookalikes`.

Screens, with the shipped model, the posts whose text the view alters (the Reddit file outside the
frozen guide set, the training corpus, the dev set) as written, with the look-alikes alone read
(an empty word list: what the view read before masked letters were), and with the whole view; and
the dev set's high and imminent posts written with look-alikes and masks (seeded). Frozen sets are
not read, except for the ids of the guide set, to leave those posts out. Prints one report;
`--json` adds one JSON object on the last line.
"""

from __future__ import annotations

import argparse
import json
import random
import re
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from unittest import mock

from services.common.normalize import normalize_text
from services.moderation.screening import screener as screener_module
from services.moderation.screening.data import (
    EVERYDAY_SUBREDDITS,
    LabeledPost,
    default_corpus_dir,
    default_data_dir,
    read_corpus,
    read_dev,
    read_guide_labels,
    read_rmhd,
    subreddit,
)
from services.moderation.screening.evaluation import HOLD_ACTIONS
from services.moderation.screening.obfuscation import WordList, screening_view
from services.moderation.screening.screener import Screener, ScreeningInput
from streams.events import DANGER_LEVELS
from tools.training.forum_words import FROZEN_GUIDE

SEED = 2026
WORD = re.compile(r"[A-Za-z]{4,}")

#: Each way of writing a letter with another character, by name: letter → substitutes.
LOOK_ALIKES = {"i": "1", "e": "3", "o": "0", "a": "4@", "s": "5$", "t": "7"}
#: Read by the word list since 2026-12-06, "*" excepted (it is not read: measured as what is left).
MASKED = {"l": "1|", "i": "!", "a": "*", "e": "*", "o": "*", "u": "*"}
#: Cyrillic and Greek letters written for Latin ones, read since 2026-12-07 inside Latin words.
CYRILLIC_TWINS = {"a": "а", "e": "е", "o": "о", "p": "р", "c": "с", "y": "у", "x": "х", "i": "і", "s": "ѕ"}
GREEK_TWINS = {"a": "α", "i": "ι", "k": "κ", "v": "ν", "o": "ο", "p": "ρ", "u": "υ", "x": "χ"}
View = Callable[[str], str]


def as_written(text: str) -> str:
    return text


#: The view with no word list: the look-alikes read, "1" as i, masks left as written.
look_alikes_only: View = partial(screening_view, words=WordList({}))
#: The view before other alphabets' twins were read.
without_twins: View = partial(screening_view, read_twins=False)


def actions(screener: Screener, texts: Sequence[str], view: View = screening_view) -> list[str]:
    """The screener's action on each text, reading it through `view`."""
    if not texts:
        return []
    patch: AbstractContextManager[object] = (
        nullcontext() if view is screening_view else mock.patch.object(screener_module, "screening_view", view)
    )
    with patch:
        verdicts = screener.screen_batch([ScreeningInput(id=str(i), text=t) for i, t in enumerate(texts)])
    return [v.action for v in verdicts]


def held(outcomes: Sequence[str]) -> int:
    return sum(action in HOLD_ACTIONS for action in outcomes)


def write_with(substitutes: dict[str, str], rng: random.Random, text: str, probability: float = 0.5) -> str:
    """`text` with one interior letter of some words of four or more letters written otherwise."""

    def rewrite(match: re.Match[str]) -> str:
        word = match.group(0)
        places = [i for i in range(1, len(word) - 1) if word[i].lower() in substitutes]
        if not places or rng.random() >= probability:
            return word
        place = rng.choice(places)
        return word[:place] + rng.choice(substitutes[word[place].lower()]) + word[place + 1 :]

    return WORD.sub(rewrite, text)


def seeded_rewrite(substitutes: dict[str, str], text: str) -> str:
    """The same rewriting of the same text on every run (a string seed is hashed with SHA-512)."""
    return write_with(substitutes, random.Random(f"{SEED}:{text}"), text)


@dataclass(frozen=True)
class Altered:
    """A post `view` changes, and the screener's action on it through `baseline` and through `view`."""

    post: LabeledPost
    without: str
    with_view: str


def screen_altered(
    screener: Screener, posts: Sequence[LabeledPost], baseline: View = as_written, view: View = screening_view
) -> list[Altered]:
    changed = []
    for post in posts:
        text = normalize_text(post.text)
        if view(text) != baseline(text):
            changed.append((post, text))
    texts = [text for _, text in changed]
    without = actions(screener, texts, baseline)
    with_view = actions(screener, texts, view)
    return [Altered(p, a, b) for (p, _), a, b in zip(changed, without, with_view, strict=True)]


def report_altered(name: str, posts: Sequence[LabeledPost], rows: Sequence[Altered], report: dict[str, object]) -> None:
    without = [row.without for row in rows]
    with_view = [row.with_view for row in rows]
    moves = [
        {"id": r.post.id, "risk_label": r.post.risk, "source": r.post.source, "without": r.without, "with": r.with_view}
        for r in rows
        if r.without != r.with_view
    ]
    urgent_without = without.count("hold_urgent")
    urgent_with = with_view.count("hold_urgent")
    report[name] = {
        "posts": len(posts),
        "altered": len(rows),
        "altered_share": round(len(rows) / len(posts), 4) if posts else 0.0,
        "held_without": held(without),
        "held_with": held(with_view),
        "urgent_without": urgent_without,
        "urgent_with": urgent_with,
        "moves": moves,
    }
    print(
        f"{name}: {len(rows)} of {len(posts)} altered ({len(rows) / max(len(posts), 1):.2%}); "
        f"held {held(without)} → {held(with_view)}; urgent {urgent_without} → {urgent_with}; "
        f"actions changed: {len(moves)}"
    )
    for move in moves:
        print(f"  {move['id']} ({move['source']}, label {move['risk_label']}): {move['without']} → {move['with']}")


def perturbation_rates(
    screener: Screener,
    originals: Sequence[str],
    held_originals: int,
    report: dict[str, object],
    rewrite: Callable[[str], str],
    name: str,
) -> None:
    rewritten = [rewrite(t) for t in originals]
    without = held(actions(screener, rewritten, as_written))
    look_alikes = held(actions(screener, rewritten, look_alikes_only))
    with_view = held(actions(screener, rewritten))
    changed = sum(a != b for a, b in zip(originals, rewritten, strict=True))
    n = len(originals)
    report[name] = {
        "posts": n,
        "posts_rewritten": changed,
        "held_originals": round(held_originals / n, 4),
        "held_without_view": round(without / n, 4),
        "held_look_alikes_only": round(look_alikes / n, 4),
        "held_with_view": round(with_view / n, 4),
    }
    print(
        f"{name}: {n} posts ({changed} rewritten): held originals {held_originals / n:.3f}, "
        f"rewritten: as written {without / n:.3f}, look-alikes only {look_alikes / n:.3f}, "
        f"whole view {with_view / n:.3f}"
    )


def twin_rates(
    screener: Screener, originals: Sequence[str], report: dict[str, object], twins: dict[str, str], name: str
) -> None:
    """Held and paged-urgent counts of `originals` and of them rewritten with `twins`, as written,
    through the view without twins, and through the whole view."""
    rewritten = [seeded_rewrite(twins, t) for t in originals]
    counts = {}
    for label, texts, view in (
        ("originals", originals, screening_view),
        ("as_written", rewritten, as_written),
        ("without_twins", rewritten, without_twins),
        ("with_view", rewritten, screening_view),
    ):
        outcomes = actions(screener, texts, view)
        counts[label] = {"held": held(outcomes), "urgent": outcomes.count("hold_urgent")}
    changed = sum(a != b for a, b in zip(originals, rewritten, strict=True))
    report[name] = {"posts": len(originals), "posts_rewritten": changed, **counts}
    print(
        f"{name}: {len(originals)} posts ({changed} rewritten); held / urgent: "
        + ", ".join(f"{label} {c['held']} / {c['urgent']}" for label, c in counts.items())
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=default_data_dir())
    parser.add_argument("--corpus", type=Path, default=default_corpus_dir())
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)

    frozen_ids = set(read_guide_labels(FROZEN_GUIDE))
    reddit = [p for p in read_rmhd(args.data / "rmhd_subreddits.csv") if p.id not in frozen_ids]
    everyday = [p for p in reddit if subreddit(p) in EVERYDAY_SUBREDDITS]
    dev = read_dev(args.data / "screening_dev.jsonl")
    corpus = read_corpus(args.corpus)
    screener = Screener.load()
    print(f"model {screener.model_version}; {len(frozen_ids)} frozen guide posts left out")

    report: dict[str, object] = {"model_version": screener.model_version}
    report["reddit_altered_as_written"] = sum(
        screening_view(text) != text for text in (normalize_text(p.text) for p in reddit)
    )
    # What the word list adds: the whole view against the look-alikes alone.
    reddit_rows = screen_altered(screener, reddit, look_alikes_only)
    report_altered("reddit", reddit, reddit_rows, report)
    everyday_rows = [row for row in reddit_rows if subreddit(row.post) in EVERYDAY_SUBREDDITS]
    report_altered("reddit_everyday", everyday, everyday_rows, report)
    report_altered("corpus", corpus, screen_altered(screener, corpus, look_alikes_only), report)
    report_altered("dev", dev, screen_altered(screener, dev, look_alikes_only), report)
    print(f"reddit posts the whole view alters against the text as written: {report['reddit_altered_as_written']}")
    # What reading other alphabets' twins adds: the whole view against the view without it.
    twin_rows = screen_altered(screener, reddit, without_twins)
    report_altered("reddit_twins", reddit, twin_rows, report)
    report_altered(
        "reddit_everyday_twins", everyday, [r for r in twin_rows if subreddit(r.post) in EVERYDAY_SUBREDDITS], report
    )
    report_altered("corpus_twins", corpus, screen_altered(screener, corpus, without_twins), report)
    report_altered("dev_twins", dev, screen_altered(screener, dev, without_twins), report)

    originals = [normalize_text(p.text) for p in dev if p.risk in DANGER_LEVELS]
    held_originals = held(actions(screener, originals))
    rates = partial(perturbation_rates, screener, originals, held_originals, report)
    rates(partial(seeded_rewrite, LOOK_ALIKES), "dev_danger_look_alikes")
    for letter, substitutes in MASKED.items():
        rates(partial(seeded_rewrite, {letter: substitutes}), f"dev_danger_{letter}_as_{substitutes}")
    twin_rates(screener, originals, report, CYRILLIC_TWINS, "dev_danger_cyrillic_twins")
    twin_rates(screener, originals, report, GREEK_TWINS, "dev_danger_greek_twins")
    if args.json:
        print(json.dumps(report))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
