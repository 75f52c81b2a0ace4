"""`haven screen --reddit-guide LABELS` scores guide-labelled Reddit posts that the model's
training never read, joined to their text by id, and refuses anything else plainly."""

from __future__ import annotations

import csv
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from services.moderation.screening import ScreeningInput
from services.moderation.screening.cli_screen import _evaluate_reddit_guide

SEED = 7


@dataclass
class _Verdict:
    risk: str
    action: str
    categories: list[str] = field(default_factory=list)


class _HoldsWhatSaysDanger:
    model_version = "test-model"
    precision = "fp32"

    def screen_batch(self, items: list[ScreeningInput]) -> list[_Verdict]:
        return [
            _Verdict("high", "hold", ["suicide"]) if "danger" in item.text else _Verdict("none", "publish")
            for item in items
        ]


@pytest.fixture
def reddit(tmp_path: Path) -> Path:
    path = tmp_path / "rmhd.csv"
    with path.open("w", newline="", encoding="utf-8") as out:
        writer = csv.writer(out)
        writer.writerow(["id", "subreddit", "date", "text"])
        for i in range(40):
            writer.writerow([f"rmhd-dep{i}", "depression", "2019", "danger tonight" if i < 30 else "a quiet day"])
        for i in range(20):
            writer.writerow([f"rmhd-lon{i}", "lonely", "2019", "danger" if i < 2 else "nobody calls"])
        writer.writerow(["rmhd-sw0", "suicidewatch", "2019", "danger"])
    return path


@pytest.fixture
def model(tmp_path: Path) -> Path:
    directory = tmp_path / "model"
    directory.mkdir()
    (directory / "head.json").write_text(json.dumps({"version": "test-model", "seed": SEED}))
    return directory


def _labels(tmp_path: Path, rows: Sequence[Mapping[str, object]]) -> Path:
    path = tmp_path / "labels.jsonl"
    path.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    return path


def test_guide_labels_are_scored_on_the_posts_text_and_broken_down_by_community(  # type: ignore[no-untyped-def]  # pytest fixtures
    tmp_path, reddit, model, capsys
) -> None:
    # 10 depression crises, of which the fake screener holds all; 20 safe lonely posts, 2 held.
    rows = [{"id": f"rmhd-dep{i}", "risk": "high", "categories": ["suicide"]} for i in range(10)]
    rows += [{"id": f"rmhd-lon{i}", "risk": "concern", "categories": []} for i in range(20)]
    code = _evaluate_reddit_guide(_HoldsWhatSaysDanger(), _labels(tmp_path, rows), model, None, reddit)
    out = capsys.readouterr().out

    assert code == 0
    assert "(30 posts, model test-model, fp32)" in out, "a report names the arithmetic it measured"
    assert "screener by community" in out
    side_by_side = out.split("screener by community")[0]
    figures = {
        cells[0]: cells[1:] for cells in (re.split(r"\s{2,}", line.strip()) for line in side_by_side.splitlines())
    }
    assert figures["recall high+imminent"][0] == "1.000"
    assert figures["false-hold rate (none+concern)"][0] == "0.100"  # 2 of 20
    assert figures["false-hold rate (none+concern)"][1] == "0.000"  # the watched words match none of them


def test_posts_the_model_trained_on_are_refused(tmp_path, reddit, model, capsys) -> None:  # type: ignore[no-untyped-def]  # pytest fixtures
    rows = [{"id": "rmhd-dep0", "risk": "high"}, {"id": "rmhd-sw0", "risk": "high"}]
    assert _evaluate_reddit_guide(_HoldsWhatSaysDanger(), _labels(tmp_path, rows), model, None, reddit) == 1
    assert "trained the model" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("rows", "message"),
    [
        ([{"id": "rmhd-nowhere", "risk": "high"}], "not in"),
        ([{"id": "rmhd-dep0", "risk": "dire"}], "needs a string 'id'"),
        ([{"id": "rmhd-dep0", "risk": "high", "categories": "suicide"}], "must be a list"),
        ([{"id": "rmhd-dep0", "risk": "high"}, {"id": "rmhd-dep0", "risk": "none"}], "more than once"),
    ],
)
def test_bad_labels_are_refused_plainly(tmp_path, reddit, model, capsys, rows, message) -> None:  # type: ignore[no-untyped-def]  # pytest fixtures
    assert _evaluate_reddit_guide(_HoldsWhatSaysDanger(), _labels(tmp_path, rows), model, None, reddit) == 1
    assert message in capsys.readouterr().err


def test_a_missing_label_file_is_refused_plainly(tmp_path, reddit, model, capsys) -> None:  # type: ignore[no-untyped-def]  # pytest fixtures
    assert _evaluate_reddit_guide(_HoldsWhatSaysDanger(), tmp_path / "missing.jsonl", model, None, reddit) == 1
    assert "cannot read" in capsys.readouterr().err


def _model_trained_on(tmp_path: Path, label_files: list[str]) -> Path:
    directory = tmp_path / "trained"
    directory.mkdir()
    (directory / "head.json").write_text(json.dumps({"version": "v", "seed": SEED, "reddit_labels": label_files}))
    return directory


def test_a_model_that_trained_on_guide_labelled_distress_posts_is_not_judged_on_them(tmp_path, capsys) -> None:  # type: ignore[no-untyped-def]  # pytest fixtures
    from services.moderation.screening.data import default_guide_labels

    distress = default_guide_labels().with_name("distress.jsonl")
    one_trained_post = json.loads(distress.read_text(encoding="utf-8").splitlines()[0])
    labels = _labels(tmp_path, [{"id": one_trained_post["id"], "risk": one_trained_post["risk"]}])

    trained = _model_trained_on(tmp_path, ["labels.jsonl", "distress.jsonl"])
    assert _evaluate_reddit_guide(_HoldsWhatSaysDanger(), labels, trained, None) == 1
    assert "trained the model" in capsys.readouterr().err

    untrained = tmp_path / "untrained"
    untrained.mkdir()
    (untrained / "head.json").write_text(json.dumps({"version": "v", "seed": SEED}))
    assert _evaluate_reddit_guide(_HoldsWhatSaysDanger(), labels, untrained, None) == 0


def test_the_unseen_reddit_posts_leave_out_the_guide_labelled_posts_the_model_trained_on(tmp_path) -> None:  # type: ignore[no-untyped-def]  # pytest fixtures
    import io

    from services.moderation.screening.cli_screen import DEFAULT_REDDIT, _reddit_unseen

    counts = {}
    for name, files in (("plain", []), ("distress", ["distress.jsonl"])):
        model = tmp_path / name
        model.mkdir()
        (model / "head.json").write_text(json.dumps({"version": "v", "seed": SEED, "reddit_labels": files}))
        out = io.StringIO()
        assert _reddit_unseen(_HoldsWhatSaysDanger(), DEFAULT_REDDIT, model, out) == 0
        counts[name] = json.loads(out.getvalue().splitlines()[-1])["by_community"]

    assert counts["plain"]["depression"]["posts"] == 160
    assert counts["distress"]["depression"]["posts"] == 100, "the 60 labelled for training are not unseen"
    assert counts["distress"]["anxiety"]["posts"] == 160
