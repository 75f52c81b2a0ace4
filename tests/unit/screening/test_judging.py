"""A candidate training run is judged against a baseline on the posts both scored, at both runs'
fold thresholds: it gains only if it is better at its own thresholds and at the baseline's, the
baseline at its own thresholds is the training report's nested estimate, and files or corpora
that cannot be compared are refused with a message."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import pytest

from services.moderation.screening.data import LabeledPost
from services.moderation.screening.head import HEAD_NAMES
from tools.training.judge_cli import configure, run
from tools.training.judging import (
    Judgement,
    OutOfFold,
    OutOfFoldError,
    Shared,
    judge,
    read_out_of_fold,
    shared_posts,
)
from tools.training.objective import Objective, loss_of

ORDINARY = "went to the farmers market with my sister and we bought apples and bread for the week"


def _posts(count: int) -> list[LabeledPost]:
    return [
        LabeledPost(f"p{n}", f"{ORDINARY} ({n})", "corpus:part-test", "high" if n % 2 else "none") for n in range(count)
    ]


def _scores(posts: list[LabeledPost], crisis_of_safe: float, crisis_of_crisis: float, seed: int) -> np.ndarray:
    """Crisis and concern scores around the given means, so thresholds can separate them more or
    less well; the category heads are noise."""
    rng = np.random.default_rng(seed)
    crisis = np.array([crisis_of_crisis if p.risk == "high" else crisis_of_safe for p in posts])
    crisis = np.clip(crisis + rng.normal(0, 0.15, len(posts)), 0, 1)
    scores = rng.random((len(posts), len(HEAD_NAMES))) * 0.2
    scores[:, HEAD_NAMES.index("crisis")] = crisis
    scores[:, HEAD_NAMES.index("concern")] = crisis
    return scores


def _three_folds(count: int) -> list[tuple[np.ndarray, np.ndarray]]:
    fold_of = np.arange(count) % 3
    return [(np.flatnonzero(fold_of != k), np.flatnonzero(fold_of == k)) for k in range(3)]


def _shared(posts: list[LabeledPost], baseline: np.ndarray, candidate: np.ndarray) -> Shared:
    return Shared(posts, {"baseline": baseline, "candidate": candidate}, 0, 0)


def test_the_baseline_at_its_own_thresholds_is_the_training_reports_nested_estimate() -> None:
    posts = _posts(60)
    baseline = _scores(posts, 0.35, 0.65, seed=1)
    splits = _three_folds(len(posts))

    judgement = judge(_shared(posts, baseline, _scores(posts, 0.3, 0.7, seed=2)), splits, (None,))

    nested = Objective(posts, baseline).nested(splits, (None,))
    assert judgement.figures[("baseline", "baseline")] == pytest.approx(nested.figures, nan_ok=True, abs=0)
    assert judgement.thresholds_by_fold["baseline"] == nested.thresholds_by_fold


def test_a_candidate_identical_to_its_baseline_gains_nothing() -> None:
    posts = _posts(60)
    scores = _scores(posts, 0.35, 0.65, seed=1)

    judgement = judge(_shared(posts, scores, scores.copy()), _three_folds(len(posts)), (None,))

    assert set(judgement.gains().values()) == {0.0}
    assert not judgement.candidate_gains


def test_a_candidate_that_separates_crisis_from_safe_posts_better_gains_at_every_threshold() -> None:
    posts = _posts(90)
    judgement = judge(
        _shared(posts, _scores(posts, 0.4, 0.6, seed=1), _scores(posts, 0.15, 0.85, seed=2)),
        _three_folds(len(posts)),
        (None,),
    )

    assert all(gain > 0 for gain in judgement.gains().values()), judgement.gains()
    assert judgement.candidate_gains
    crisis_found = judgement.figures[("candidate", "baseline")]["recall_high_or_imminent"]
    assert crisis_found >= judgement.figures[("baseline", "baseline")]["recall_high_or_imminent"]


def _figures(recall: float, false_holds: float) -> dict[str, float]:
    ordinary = {
        "imminent_as_urgent": 1.0,
        "benign_paged_urgent": 0.0,
        "none_given_resources": 0.0,
        "concern_missed": 0.0,
        "suicidewatch_held": 0.9,
        "everyday_held": 0.0,
        "recovery_held": 0.0,
        "everyday_urgent": 0.0,
    }
    return {"recall_high_or_imminent": recall, "false_hold_rate": false_holds, **ordinary}


def test_a_gain_only_at_the_candidates_own_thresholds_is_not_a_gain() -> None:
    # The candidate's folds chose another trade (more recall, more false holds) that the objective
    # happens to like; at the baseline's lines its scores do worse than the baseline's.
    judgement = Judgement(
        posts=100,
        figures={
            ("baseline", "baseline"): _figures(0.95, 0.05),
            ("candidate", "candidate"): _figures(0.97, 0.05),
            ("candidate", "baseline"): _figures(0.93, 0.05),
            ("baseline", "candidate"): _figures(0.96, 0.07),
        },
        thresholds_by_fold={"baseline": [], "candidate": []},
    )

    gains = judgement.gains()
    assert gains["each at its own thresholds"] > 0 > gains["both at the baseline's thresholds"]
    assert not judgement.candidate_gains
    assert judgement.objective("candidate", "baseline") == loss_of(_figures(0.93, 0.05))
    assert judgement.as_dict()["candidate_gains"] is False


def test_posts_are_matched_by_id_in_the_baselines_order_and_the_rest_counted() -> None:
    posts = _posts(4)
    pool = {p.id: p for p in posts}
    heads = len(HEAD_NAMES)
    baseline = OutOfFold(("p0", "p1", "p2"), np.array([[0.1] * heads, [0.2] * heads, [0.3] * heads]))
    candidate = OutOfFold(("p3", "p2", "p0"), np.array([[0.9] * heads, [0.8] * heads, [0.7] * heads]))

    shared = shared_posts(baseline, candidate, pool)

    assert [p.id for p in shared.posts] == ["p0", "p2"]
    assert shared.scores["baseline"][:, 0].tolist() == [0.1, 0.3]
    assert shared.scores["candidate"][:, 0].tolist() == [0.7, 0.8]
    assert (shared.only_baseline, shared.only_candidate) == (1, 1)


def test_runs_with_no_post_in_common_or_posts_no_corpus_knows_are_refused() -> None:
    row = np.full((1, len(HEAD_NAMES)), 0.5)
    with pytest.raises(OutOfFoldError, match="no post in common"):
        shared_posts(OutOfFold(("a",), row), OutOfFold(("b",), row), {})
    with pytest.raises(OutOfFoldError, match="in neither corpus"):
        shared_posts(OutOfFold(("a",), row), OutOfFold(("a",), row), {})


@pytest.mark.parametrize(
    ("saved", "problem"),
    [
        ({"ids": np.array(["a", "b"]), "scores": np.full((2, 3), 0.5)}, "expected one row of"),
        ({"ids": np.array(["a", "a"]), "scores": np.full((2, len(HEAD_NAMES)), 0.5)}, "more than once"),
        ({"ids": np.array(["a"]), "scores": np.full((1, len(HEAD_NAMES)), 1.5)}, "probabilities"),
        ({"ids": np.array(["a"]), "scores": np.full((1, len(HEAD_NAMES)), np.nan)}, "probabilities"),
        ({"ids": np.array(["a"])}, "not an out-of-fold file"),
    ],
)
def test_out_of_fold_files_that_cannot_be_judged_are_refused(
    tmp_path: Path, saved: dict[str, np.ndarray], problem: str
) -> None:
    path = tmp_path / "oof.npz"
    np.savez_compressed(path, **saved)
    with pytest.raises(OutOfFoldError, match=problem):
        read_out_of_fold(path)


@pytest.mark.parametrize("content", [b"id,score\np1,0.5\n", b""])
def test_a_file_that_is_no_archive_is_refused(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "oof.npz"
    path.write_bytes(content)
    with pytest.raises(OutOfFoldError, match="not an out-of-fold file"):
        read_out_of_fold(path)


def test_a_single_array_is_refused_naming_what_it_is(tmp_path: Path) -> None:
    path = tmp_path / "scores.npy"
    np.save(path, np.full((2, len(HEAD_NAMES)), 0.5))
    with pytest.raises(OutOfFoldError, match="one array, not a .npz archive"):
        read_out_of_fold(path)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="haven judge-candidate")
    configure(parser)
    return parser


def test_two_real_dry_runs_are_judged_on_the_posts_both_scored(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """End to end: `haven train-screener --dry-run --save-oof` on a small corpus and on the same
    corpus with a part added (one epoch each), then the judgement of the two files."""
    from services.moderation.screening.data import default_corpus_dir
    from tools.training.cli import configure as configure_training
    from tools.training.cli import run as train

    rows = (default_corpus_dir() / "part-a.jsonl").read_text().splitlines()[::13][:75]
    baseline_corpus, candidate_corpus = tmp_path / "baseline", tmp_path / "candidate"
    for folder in (baseline_corpus, candidate_corpus):
        folder.mkdir()
        (folder / "part-a.jsonl").write_text("\n".join(rows[:54]) + "\n")
    (candidate_corpus / "part-added.jsonl").write_text("\n".join(rows[54:]) + "\n")
    training = argparse.ArgumentParser()
    configure_training(training)
    saved = {}
    for name, corpus in (("baseline", baseline_corpus), ("candidate", candidate_corpus)):
        flags = ["--corpus", str(corpus), "--no-reddit", "--epochs", "1", "--dry-run"]
        assert train(training.parse_args([*flags, "--save-oof", str(tmp_path / f"{name}.npz")])) == 0
        [saved[name]] = tmp_path.glob(f"{name}-top*.npz")
    capsys.readouterr()

    args = _parser().parse_args(
        [str(saved["baseline"]), str(saved["candidate"]), "--corpus", str(baseline_corpus)]
        + ["--candidate-corpus", str(candidate_corpus), "--json"]
    )
    assert run(args) == 0

    out = capsys.readouterr().out
    assert "posts both runs scored: 54 (only the baseline's: 0, only the candidate's: 21)" in out
    report = json.loads(out.splitlines()[-1])
    assert report["posts"] == 54
    assert len(report["thresholds_by_fold"]["candidate"]) == 3
    gains = report["gains"]
    assert report["candidate_gains"] == (
        gains["each at its own thresholds"] > 0 and gains["both at the baseline's thresholds"] > 0
    )


def test_a_post_that_differs_between_the_two_corpora_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    line = {"id": "same-id", "text": ORDINARY, "risk": "none", "categories": []}
    for folder, risk in (("baseline", "none"), ("candidate", "high")):
        (tmp_path / folder).mkdir()
        (tmp_path / folder / "part-a.jsonl").write_text(json.dumps({**line, "risk": risk}) + "\n")
    oof = tmp_path / "oof.npz"
    np.savez_compressed(oof, ids=np.array(["same-id"]), scores=np.full((1, len(HEAD_NAMES)), 0.5))

    args = _parser().parse_args(
        [str(oof), str(oof), "--corpus", str(tmp_path / "baseline"), "--candidate-corpus", str(tmp_path / "candidate")]
    )
    assert run(args) == 2
    assert "post same-id differs between the two corpora" in capsys.readouterr().err
