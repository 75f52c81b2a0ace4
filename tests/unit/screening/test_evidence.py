"""Training reads a guide-labelled crisis at a span over the sentence it was labelled for, and a
guide-labelled safe post at a seeded span anywhere in it, both as long as any Reddit reading;
without evidence it trains exactly as before. Quotes a post does not contain are refused."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest

from services.moderation.screening.data import LabeledPost, default_guide_labels, read_guide_labels
from services.moderation.screening.encoder import Encoder, window_starts
from tools.training.cross_validation import TrainingSet
from tools.training.evidence import Readings, guide_readings, read_evidence, span_over, window_holding
from tools.training.finetune import FinetuneConfig, lower_states, train


def words(texts: Sequence[str]) -> list[list[int]]:
    """A tokenizer of one token per word: enough to place a quote among windows."""
    return [[len(w) for w in t.split()] for t in texts]


def long_post(post_id: str, quote_at: int, quote: str, length: int = 600) -> LabeledPost:
    filler = [f"w{i}" for i in range(length)]
    text = " ".join(filler[:quote_at] + [quote] + filler[quote_at:])
    return LabeledPost(post_id, text, "rmhd:alcoholism", "high", ("relapse",))


QUOTE = "i drank a fifth and took the xanax on top, alone in the flat"


def test_the_window_chosen_holds_the_quote_whole_and_is_the_first_that_does() -> None:
    starts = window_starts(600)
    assert starts == [0, 192, 384]
    assert window_holding(starts, 10, 20) == 0
    assert window_holding(starts, 300, 314) == 1, "192..446 holds it; 384.. does not"
    assert window_holding(starts, 440, 460) == 2, "no window holds it whole: the one holding most"


def test_a_span_is_centred_on_its_quote_and_kept_inside_the_window() -> None:
    assert span_over(100, 110, 256, 128) == 41, "59 tokens of room on each side"
    assert span_over(5, 15, 256, 128) == 0
    assert span_over(240, 250, 256, 128) == 128, "flush with the window's end"
    assert span_over(60, 260, 256, 128) == 60, "a quote longer than the span keeps its start"
    assert span_over(10, 20, 90, 128) == 0, "a short window is read whole"


def test_a_quoted_post_is_read_over_its_quote_and_a_safe_one_at_a_seeded_place() -> None:
    posts = [long_post("early", 10, QUOTE), long_post("middle", 300, QUOTE), long_post("safe", 300, QUOTE)]
    posts.append(long_post("other", 300, QUOTE))
    first = np.array([0, 3, 6, 9])

    def read(seed: int) -> Readings:
        return guide_readings(words, posts, first, {"early": QUOTE, "middle": QUOTE}, {"safe"}, 128, seed)

    readings = read(1)
    assert readings.window.tolist()[:2] == [0, 4] and readings.window[3] == -1
    quote_tokens = len(QUOTE.split())
    in_window = 1 + 300 - window_starts(600)[1]
    assert readings.start[1] <= in_window and in_window + quote_tokens <= readings.start[1] + 128
    places = {(int(r.window[2]), int(r.start[2])) for r in map(read, range(20))}
    assert len(places) > 5 and all(6 <= w <= 8 and 0 <= at <= 256 - 128 for w, at in places)
    assert (read(3).window == read(3).window).all() and (read(3).start == read(3).start).all()


def test_a_quote_the_post_does_not_contain_or_an_unknown_post_is_refused() -> None:
    posts = [long_post("p", 10, QUOTE)]
    with pytest.raises(ValueError, match="not in the text"):
        guide_readings(words, posts, np.array([0]), {"p": "something nobody wrote here"}, (), 128, 1)
    with pytest.raises(ValueError, match="training does not read"):
        guide_readings(words, posts, np.array([0]), {"p": QUOTE, "gone": QUOTE}, (), 128, 1)


@pytest.mark.parametrize(
    "line, problem",
    [
        ("not json", "not an evidence line"),
        ('{"id": "a"}', "not an evidence line"),
        ('{"id": "a", "evidence": " "}', "the id and the evidence must be non-empty"),
    ],
)
def test_a_bad_evidence_line_is_refused_naming_it(tmp_path: Path, line: str, problem: str) -> None:
    path = tmp_path / "evidence.jsonl"
    path.write_text(json.dumps({"id": "ok", "evidence": QUOTE}) + "\n" + line + "\n")
    with pytest.raises(ValueError, match=f"evidence.jsonl:2: {problem}"):
        read_evidence(path)


def test_a_second_quote_for_one_post_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "evidence.jsonl"
    path.write_text("\n".join(json.dumps({"id": "a", "evidence": q}) for q in (QUOTE, "another line")) + "\n")
    with pytest.raises(ValueError, match="a second line for a"):
        read_evidence(path)


def test_the_shipped_evidence_quotes_each_guide_labelled_crisis_as_training_reads_it() -> None:
    from services.moderation.screening.data import default_data_dir, read_rmhd
    from tools.training.cross_validation import REDDIT_CHARS

    labels = read_guide_labels(default_guide_labels())
    evidence = read_evidence(default_guide_labels().parent / "evidence.jsonl")
    assert set(evidence) == {post_id for post_id, (risk, _) in labels.items() if risk in ("high", "imminent")}
    text = {p.id: p.text[:REDDIT_CHARS] for p in read_rmhd(default_data_dir() / "rmhd_subreddits.csv")}
    assert all(quote in text[post_id] for post_id, quote in evidence.items())


@pytest.fixture(scope="module")
def encoder() -> Encoder:
    return Encoder.load(threads=1, precision="fp32")


def test_training_reads_the_quoted_window_and_without_evidence_trains_as_before(encoder: Encoder) -> None:
    opening = "day four off the bottle and work was fine, the usual long shift. " * 30
    danger = opening + QUOTE + " and my hands will not stop shaking"
    safe = "ninety days sober today, made pancakes for my kids before the meeting"
    posts = [
        LabeledPost("r1", danger, "rmhd:alcoholism", "imminent", ("relapse", "medical")),
        LabeledPost("r2", safe, "rmhd:alcoholism", "none", ()),
    ]
    data = TrainingSet.of(posts, 1.0)
    lower = lower_states(encoder, [p.text for p in data.posts], [1])[1]
    config = FinetuneConfig(top_layers=1, epochs=2, batch_size=2)

    def weights(readings: Readings | None) -> np.ndarray:
        fitted = train(
            encoder, lower, data.targets, data.mask, data.weights, [0, 1], config, data.weakly_labeled, None, readings
        )
        return fitted.weights

    quoted = guide_readings(encoder.token_ids, data.posts, lower.first_window, {"r1": QUOTE}, (), 128, 1)
    assert quoted.window[0] > lower.first_window[0], "the quote is past the first window"
    plain = weights(None)
    assert np.array_equal(weights(Readings(np.array([-1, -1]), np.zeros(2, dtype=int))), plain), "the recipe unchanged"
    assert not np.array_equal(weights(quoted), plain)
