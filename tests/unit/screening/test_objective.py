"""The decision on out-of-fold scores holds what the model finds, pages urgent only with support
in the text, keeps a rule's floor, and the nested estimate never scores a fold with thresholds
chosen on it."""

from __future__ import annotations

import numpy as np

from services.moderation.screening.data import LabeledPost
from services.moderation.screening.head import HEAD_NAMES, Thresholds
from services.moderation.screening.rules import RISK_ORDER, apply_rules
from tools.training.objective import Objective, loss_of

ORDINARY = "went to the farmers market with my sister and we bought apples and bread for the week"
SHIPPED = Thresholds(0.4, 0.4, 0.3, 0.5)


def _scores(**by_head: float) -> np.ndarray:
    row = np.zeros(len(HEAD_NAMES))
    for name, value in by_head.items():
        row[HEAD_NAMES.index(name)] = value
    return row


def _post(number: int, text: str = ORDINARY, risk: str = "none") -> LabeledPost:
    return LabeledPost(f"p{number}", f"{text} ({number})", "corpus:test", risk)


def test_the_model_alone_holds_but_pages_urgent_only_with_a_sign_of_now() -> None:
    alarmed = _scores(crisis=0.95, imminent=0.95, concern=0.95)
    posts = [_post(1, risk="imminent"), _post(2, ORDINARY + " and i took them all twenty minutes ago", "imminent")]
    assert apply_rules(posts[0].text).signals == [], "precondition: no rule speaks for the first post"
    levels = Objective(posts, np.stack([alarmed, alarmed])).levels(SHIPPED)
    assert levels.tolist() == [RISK_ORDER["high"], RISK_ORDER["imminent"]]


def test_a_rules_floor_is_kept_when_the_model_sees_nothing() -> None:
    post = _post(1, "i have the pills counted out and i am going to kill myself tonight", "imminent")
    floor = max(RISK_ORDER[s.floor] for s in apply_rules(post.text).signals)
    assert floor >= RISK_ORDER["high"], "precondition: a rule holds this post by itself"
    assert Objective([post], np.stack([_scores()])).levels(SHIPPED)[0] == floor


def test_a_post_too_short_for_the_model_gets_resources_not_a_hold() -> None:
    post = LabeledPost("short", "cant do this", "corpus:test", "high")
    level = Objective([post], np.stack([_scores(crisis=0.99, concern=0.99)])).levels(SHIPPED)[0]
    assert level == RISK_ORDER["concern"]


def test_nested_thresholds_are_chosen_without_the_fold_they_decide() -> None:
    # Folds 1 and 2 separate at any threshold between 0.35 and 0.9; fold 0's safe posts score
    # 0.38, so thresholds chosen on folds 1 and 2 alone hold them, and only thresholds that had
    # seen fold 0 would not.
    posts, rows, folds = [], [], []
    for fold, (safe, crisis) in enumerate([(0.38, 0.42), (0.35, 0.9), (0.35, 0.9)]):
        for _ in range(10):
            posts.append(_post(len(posts)))
            rows.append(_scores(crisis=safe))
            posts.append(_post(len(posts), risk="high"))
            rows.append(_scores(crisis=crisis, concern=crisis))
            folds += [fold, fold]
    objective = Objective(posts, np.stack(rows))
    in_sample = objective.figures(objective.best())
    assert in_sample["false_hold_rate"] == 0.0 and in_sample["recall_high_or_imminent"] == 1.0

    fold_of = np.array(folds)
    splits = [(np.flatnonzero(fold_of != k), np.flatnonzero(fold_of == k)) for k in range(3)]
    nested = objective.nested(splits)

    assert nested.figures["false_hold_rate"] == 1 / 3, "fold 0's safe posts are held"
    assert nested.thresholds_by_fold[0].high < 0.38
    assert nested.objective == loss_of(nested.figures) > objective.loss(objective.best())


def test_nested_figures_are_also_given_per_voice_of_the_hand_labelled_posts() -> None:
    # Crisis posts score 0.9, so every fold's thresholds hold at 0.9: the lowercase safe posts,
    # scored like them, are held, and the formal ones, scored 0.1, are not.
    posts, rows = [], []
    for number in range(12):
        posts.append(LabeledPost(f"c{number}", f"{ORDINARY} [{number}]", "corpus:test", "high", voice="plain"))
        rows.append(_scores(crisis=0.9, concern=0.9))
        voice = "lowercase" if number % 2 == 0 else "formal"
        posts.append(LabeledPost(f"s{number}", f"{ORDINARY} ({number})", "corpus:test", "none", voice=voice))
        rows.append(_scores(crisis=0.9 if voice == "lowercase" else 0.1))
    posts.append(LabeledPost("r1", ORDINARY, "rmhd:teaching"))
    rows.append(_scores())
    fold_of = np.arange(len(posts)) % 3
    splits = [(np.flatnonzero(fold_of != k), np.flatnonzero(fold_of == k)) for k in range(3)]

    by_voice = Objective(posts, np.stack(rows)).nested(splits).by_voice

    assert set(by_voice) == {"plain", "lowercase", "formal"}, "Reddit posts have no voice"
    assert by_voice["plain"]["recall_high_or_imminent"] == 1.0 and by_voice["plain"]["crisis_posts"] == 12
    assert by_voice["lowercase"]["false_hold_rate"] == 1.0 and by_voice["lowercase"]["safe_posts"] == 6
    assert by_voice["formal"]["false_hold_rate"] == 0.0
    assert np.isnan(by_voice["formal"]["recall_high_or_imminent"]), "no crisis post is formal here"


def test_nested_figures_count_the_posts_of_parts_set_apart_on_their_own() -> None:
    # The new part's safe posts score like crises and are held; the old part's are not, so the
    # other posts' figures are those of a corpus without the new part.
    posts, rows = [], []
    for number in range(12):
        posts.append(LabeledPost(f"c{number}", f"{ORDINARY} [{number}]", "corpus:part-old", "high"))
        rows.append(_scores(crisis=0.9, concern=0.9))
        part = "part-new" if number % 3 == 0 else "part-old"
        posts.append(LabeledPost(f"s{number}", f"{ORDINARY} ({number})", f"corpus:{part}", "none"))
        rows.append(_scores(crisis=0.9 if part == "part-new" else 0.1))
    fold_of = np.arange(len(posts)) % 3
    splits = [(np.flatnonzero(fold_of != k), np.flatnonzero(fold_of == k)) for k in range(3)]
    objective = Objective(posts, np.stack(rows))

    nested = objective.nested(splits, apart={"part-new"})

    assert nested.apart["false_hold_rate"] == 1.0, "the four new safe posts are held"
    assert np.isnan(nested.apart["recall_high_or_imminent"]), "the new part has no crisis post"
    assert nested.others["false_hold_rate"] == 0.0 and nested.others["recall_high_or_imminent"] == 1.0
    assert nested.figures["false_hold_rate"] == 4 / 12, "all posts together"
    assert nested.as_dict()["without_parts_apart"]["objective"] == round(loss_of(nested.others), 4)
    assert "parts_apart" not in objective.nested(splits).as_dict(), "nothing set apart, nothing reported apart"


def test_restricting_keeps_each_posts_rule_findings() -> None:
    posts = [_post(1), _post(2, "i have the pills counted out and i am going to kill myself tonight", "imminent")]
    objective = Objective(posts, np.stack([_scores(), _scores()]))
    only_second = objective.restricted([1])
    assert only_second.findings == [objective.findings[1]]
    assert only_second.levels(SHIPPED)[0] == objective.levels(SHIPPED)[1]


def test_levels_are_the_levels_the_screener_decides_at_run_time() -> None:
    """Thresholds are chosen on `levels`, so it must decide every post as `decide` does."""
    from types import SimpleNamespace
    from typing import cast

    from services.moderation.screening.data import default_corpus_dir, read_corpus
    from services.moderation.screening.head import Head
    from services.moderation.screening.screener import PostScores, decide

    posts = read_corpus(default_corpus_dir())[::10]
    rng = np.random.default_rng(3)
    scores = rng.uniform(0.0, 1.0, size=(len(posts), len(HEAD_NAMES)))
    objective = Objective(posts, scores)
    head = cast("Head", SimpleNamespace(thresholds=SHIPPED))
    at_run_time = [
        RISK_ORDER[
            decide(
                PostScores(dict(zip(HEAD_NAMES, row.tolist(), strict=True))),
                objective.findings[i],
                head,
                len(posts[i].text.split()),
                posts[i].text,
            )[0]
        ]
        for i, row in enumerate(scores)
    ]
    assert len(set(at_run_time)) == 4, "precondition: every level occurs"
    assert objective.levels(SHIPPED).tolist() == at_run_time
