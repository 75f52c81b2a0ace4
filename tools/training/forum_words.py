"""The word list the screening view reads masked letters by: `python -m tools.training.forum_words`.

Every word of three letters or more seen at least twice in the training corpus and in the Reddit
file outside the frozen guide set; never the dev set or a frozen set, which check the view. Writes
`services/moderation/screening/forum_words.txt` ("word count" a line, most frequent first);
`--check` fails when the shipped list is not what the data gives.
"""

from __future__ import annotations

import argparse
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from pathlib import Path

from services.common.normalize import normalize_text
from services.moderation.screening.data import (
    default_corpus_dir,
    default_data_dir,
    read_corpus,
    read_guide_labels,
    read_rmhd,
)
from services.moderation.screening.obfuscation import MIN_WORD_LENGTH, WORDS_FILE

REPO = Path(__file__).resolve().parents[2]
FROZEN_GUIDE = REPO / "tests" / "data" / "screening_reddit_guide.jsonl"


def read_words(texts: Iterable[str], *, min_count: int = 2) -> dict[str, int]:
    """Lowercase words of MIN_WORD_LENGTH letters or more seen at least `min_count` times in `texts`."""
    counts = Counter(
        word for text in texts for word in re.findall(r"[^\W\d_]+", text.lower()) if len(word) >= MIN_WORD_LENGTH
    )
    return {word: count for word, count in counts.items() if count >= min_count}


def word_list_text(corpus_dir: Path, data_dir: Path) -> str:
    frozen_ids = set(read_guide_labels(FROZEN_GUIDE))
    posts = list(read_corpus(corpus_dir)) + [
        post for post in read_rmhd(data_dir / "rmhd_subreddits.csv") if post.id not in frozen_ids
    ]
    counts = read_words(normalize_text(post.text) for post in posts)
    ordered = sorted(counts.items(), key=lambda item: (-item[1], item[0]))
    return "".join(f"{word} {count}\n" for word, count in ordered)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path, default=default_corpus_dir())
    parser.add_argument("--data", type=Path, default=default_data_dir())
    parser.add_argument("--out", type=Path, default=WORDS_FILE)
    parser.add_argument("--check", action="store_true", help="compare with --out instead of writing it")
    args = parser.parse_args(argv)
    text = word_list_text(args.corpus, args.data)
    if args.check:
        same = args.out.is_file() and args.out.read_text(encoding="utf-8") == text
        print(f"{args.out}: {'as the data gives it' if same else 'differs from what the data gives'}")
        return 0 if same else 1
    args.out.write_text(text, encoding="utf-8")
    print(f"wrote {text.count(chr(10)):,} words to {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
