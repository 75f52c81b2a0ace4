"""haven train-screener refuses token counts a window cannot hold and dropout it cannot use, with a
clear message, and with no flags trains the recipe the shipped model records."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pytest

from services.moderation.screening.screener import MODEL_DIR
from tools.training.cli import configure, run
from tools.training.cross_validation import REDDIT_WEIGHT, SEED
from tools.training.finetune import attention_dropout_for


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="haven train-screener")
    configure(parser)
    return parser


def test_token_counts_default_to_the_shipped_recipe_and_accept_a_full_window() -> None:
    defaults = _parser().parse_args([])
    assert (defaults.corpus_tokens, defaults.reddit_tokens) == (256, 128)
    assert _parser().parse_args(["--reddit-tokens", "256"]).reddit_tokens == 256


@pytest.mark.parametrize(
    ("flag", "value"),
    [
        *[("--reddit-tokens", v) for v in ("0", "257", "-5", "many")],
        *[("--attention-dropout", v) for v in ("1", "-0.1", "1.5", "some")],
        *[("--seed", v) for v in ("-1", "4294967296", "1.5", "lucky")],
        *[("--reddit-weight", v) for v in ("0", "-1", "4.5", "heavy")],
        *[("--careless-voice", v) for v in ("-0.1", "1.5", "often")],
    ],
)
def test_values_the_recipe_cannot_use_are_refused_naming_the_flag(
    flag: str, value: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exited:
        _parser().parse_args([flag, value])
    assert exited.value.code == 2
    assert flag in capsys.readouterr().err


def test_attention_dropout_follows_the_arithmetic_unless_given() -> None:
    assert _parser().parse_args([]).attention_dropout is None, "None: chosen by the arithmetic training runs in"
    assert attention_dropout_for("bf16") == 0.1, "the shipped model's, trained under bfloat16"
    assert attention_dropout_for("fp32") == 0.0, "float32 takes PyTorch's fused attention to fit 30 minutes"
    assert _parser().parse_args(["--attention-dropout", "0"]).attention_dropout == 0.0
    assert _parser().parse_args(["--attention-dropout", "0.1"]).attention_dropout == 0.1


def test_the_defaults_are_the_recipe_the_shipped_model_records() -> None:
    """`haven train-screener` with no flags must retrain the model that ships (on 2026-12-04 it
    rewrote its files bit for bit), so a default cannot move without a model trained by it."""
    shipped = json.loads((MODEL_DIR / "head.json").read_text())
    defaults = _parser().parse_args([])
    recipe = {
        "encoder": defaults.encoder,
        "folds": defaults.folds,
        "epochs": defaults.epochs,
        "corpus_tokens": defaults.corpus_tokens,
        "reddit_tokens": defaults.reddit_tokens,
        "attention_dropout": attention_dropout_for(shipped["precision"])
        if defaults.attention_dropout is None
        else defaults.attention_dropout,
        "span_weight": defaults.span_weight,
        "dropout_masks": defaults.dropout_masks,
        "training_seed": SEED if defaults.seed is None else defaults.seed,
    }
    assert {key: shipped[key] for key in recipe} == recipe
    assert str(shipped["top_layers"]) in defaults.compare.split(",")
    assert shipped.get("fold_assignment", "stratified") == defaults.fold_assignment, "thresholds come from the folds"
    assert defaults.reddit_weight is None, "None: the recipe's REDDIT_WEIGHT"
    assert shipped.get("reddit_weight", REDDIT_WEIGHT) == REDDIT_WEIGHT
    assert defaults.careless_voice == shipped.get("careless_voice", 0.0) == 0.0
    assert defaults.reddit_labels is None and "reddit_labels" not in shipped, "Reddit posts train on their subreddit"
    assert defaults.reddit_evidence is None and "reddit_evidence" not in shipped, "Reddit posts read from the start"


def test_evidence_without_guide_labels_is_refused() -> None:
    assert run(_parser().parse_args(["--reddit-evidence", "evidence.jsonl", "--dry-run"])) == 2
    assert run(_parser().parse_args(["--reddit-evidence", "e.jsonl", "--reddit-labels", "l.jsonl", "--no-reddit"])) == 2


def test_the_fold_assignments_offered_are_the_ones_cross_validation_knows() -> None:
    from tools.training.cross_validation import FOLD_ASSIGNMENTS

    assert {_parser().parse_args(["--fold-assignment", name]).fold_assignment for name in FOLD_ASSIGNMENTS} == set(
        FOLD_ASSIGNMENTS
    )
    with pytest.raises(SystemExit):
        _parser().parse_args(["--fold-assignment", "random"])


def test_the_training_seed_defaults_to_the_shipped_recipes_and_can_be_drawn_again() -> None:
    assert _parser().parse_args([]).seed is None, "None trains with the data seed, as the shipped model was"
    assert _parser().parse_args(["--seed", "7"]).seed == 7


def test_training_on_a_small_corpus_writes_a_model_the_screener_loads(tmp_path: Path) -> None:
    """The whole command, end to end on 90 corpus posts and one epoch: composed posts, careless
    rewrites read in posts' places, cross-validation, the nested figures, the final fit, the files, and a screener that reads them."""
    from services.moderation.screening import Screener
    from services.moderation.screening.data import default_corpus_dir
    from services.moderation.screening.screener import ScreeningInput

    corpus = tmp_path / "corpus"
    corpus.mkdir()
    rows = (default_corpus_dir() / "part-a.jsonl").read_text().splitlines()
    picked = rows[::11][:90]
    (corpus / "part-a.jsonl").write_text("\n".join(picked[:60]) + "\n")
    (corpus / "part-new.jsonl").write_text("\n".join(picked[60:]) + "\n")
    out = tmp_path / "model"
    args = _parser().parse_args(
        ["--corpus", str(corpus), "--no-reddit", "--epochs", "1", "--composites", "10", "--careless-voice", "0.5"]
        + ["--apart", "part-new", "--out", str(out)]
    )

    assert run(args) == 0

    head = json.loads((out / "head.json").read_text())
    assert head["training_data"]["corpus"] == 90, "composed posts train, but are not counted as data"
    assert head["composites"] == 10
    assert head["careless_voice"] == 0.5
    assert head["attention_dropout"] == attention_dropout_for(head["precision"])
    nested = head["cross_validated"]["nested_out_of_fold"]
    assert len(nested["thresholds_by_fold"]) == 3
    assert 0.0 <= nested["figures"]["recall_high_or_imminent"] <= 1.0
    assert set(nested["without_parts_apart"]) == {"objective", "figures"}, "the other 60 posts, counted alone"
    assert set(nested["parts_apart"]) == set(nested["figures"]), "part-new's 30 posts, counted alone"
    [verdict] = Screener.load(out, threads=2).screen_batch(
        [ScreeningInput(id="p1", text="i took all my pills an hour ago and i cant stay awake")]
    )
    assert verdict.model_version.startswith(head["version"] + "+rules-")


def test_a_dry_run_reads_guide_labelled_reddit_posts_over_their_evidence(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """The evidence path end to end on a small sample of the real files: guide labels, their
    quotes, where each labelled post is read, cross-validation and the guide figures, one epoch."""
    import csv

    import tools.training.evidence as evidence_module
    from services.moderation.screening.data import default_corpus_dir, default_data_dir, default_guide_labels

    planned = []

    def recorded(*args: object, **kwargs: object) -> evidence_module.Readings:
        readings = real_readings(*args, **kwargs)  # type: ignore[arg-type]
        planned.append(readings)
        return readings

    real_readings = evidence_module.guide_readings
    monkeypatch.setattr(evidence_module, "guide_readings", recorded)

    labels = [json.loads(line) for line in default_guide_labels().read_text().splitlines()]
    by_risk: dict[str, list[str]] = {}
    for label in labels:
        by_risk.setdefault(label["risk"], []).append(label["id"])
    chosen = {post_id for ids in by_risk.values() for post_id in ids[:6]}
    evidence_lines = (default_guide_labels().parent / "evidence.jsonl").read_text().splitlines()
    data, corpus = tmp_path / "data", tmp_path / "corpus"
    data.mkdir()
    corpus.mkdir()
    with (default_data_dir() / "rmhd_subreddits.csv").open(newline="", encoding="utf-8") as source:
        rows = [r for r in csv.DictReader(source) if r["id"] in chosen or r["subreddit"] == "teaching"]
    with (data / "rmhd_subreddits.csv").open("w", newline="", encoding="utf-8") as sample:
        writer = csv.DictWriter(sample, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows[:80])
    (data / "labels.jsonl").write_text("\n".join(json.dumps(lab) for lab in labels if lab["id"] in chosen) + "\n")
    (data / "evidence.jsonl").write_text(
        "\n".join(line for line in evidence_lines if json.loads(line)["id"] in chosen) + "\n"
    )
    lines = (default_corpus_dir() / "part-a.jsonl").read_text().splitlines()
    (corpus / "part-a.jsonl").write_text("\n".join(lines[::17][:60]) + "\n")
    args = _parser().parse_args(
        ["--data", str(data), "--corpus", str(corpus), "--epochs", "1", "--dry-run"]
        + ["--reddit-labels", str(data / "labels.jsonl"), "--reddit-evidence", str(data / "evidence.jsonl")]
    )

    assert run(args) == 0
    [readings] = planned
    assert (readings.window >= 0).sum() == len(chosen), "every guide-labelled post is read at a span chosen for it"
    report = json.loads(capsys.readouterr().out)
    assert 0.0 <= report["nested_out_of_fold"]["figures"]["reddit_guide_recall"] <= 1.0


def test_a_part_set_apart_must_be_in_the_corpus(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from services.moderation.screening.data import default_corpus_dir

    (tmp_path / "part-a.jsonl").write_text((default_corpus_dir() / "part-a.jsonl").read_text().splitlines()[0] + "\n")
    args = _parser().parse_args(["--corpus", str(tmp_path), "--no-reddit", "--apart", "part-a,part-g", "--dry-run"])

    assert run(args) == 2
    assert "--apart: no corpus part named part-g" in capsys.readouterr().err
