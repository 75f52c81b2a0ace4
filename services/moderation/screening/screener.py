"""The screener: the model scores every post, rules add to its scores and explain them.

Which model runs is configuration: `HAVEN_SCREENER_MODEL` names a model folder (head.json,
head.npz and, for a fine-tuned encoder, encoder-top.safetensors); by default the one shipped in
`model/`. Promoting a shadow candidate is setting that variable. Every verdict carries the
model's version and a fingerprint of the rule lists (`rule_lists.py`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from services.common.normalize import normalize_text
from services.moderation.screening.encoder import DELTA_FILE, Encoder, EncoderLoadError
from services.moderation.screening.head import HEAD_NAMES, Head, HeadLoadError, Thresholds
from services.moderation.screening.imminence import signs_of_now
from services.moderation.screening.obfuscation import screening_view
from services.moderation.screening.policy import Policy
from services.moderation.screening.rule_lists import rule_lists_fingerprint
from services.moderation.screening.rules import RISK_ORDER, RuleFindings, apply_rules
from streams.events import CATEGORIES, SIGNS_OF_NOW, Category, Risk, RuleMatch, Verdict

MODEL_DIR = Path(__file__).resolve().parent / "model"
MODEL_ENV = "HAVEN_SCREENER_MODEL"


def configured_model_dir(configured: Path | None) -> Path:
    """The live model folder: the configured one (HAVEN_SCREENER_MODEL) if set, else the shipped one."""
    return configured or MODEL_DIR


class ScreenerLoadError(RuntimeError):
    """The model cannot be loaded: the worker must refuse to start rather than run unscreened."""


@dataclass(frozen=True)
class ScreeningInput:
    id: str
    text: str
    title: str | None = None
    board_slug: str | None = None

    @property
    def full_text(self) -> str:
        return f"{self.title}\n{self.text}" if self.title else self.text


#: What screens a batch: the live Screener's `screen_batch`, or a candidate's in shadow mode.
ScreenBatch = Callable[[Sequence[ScreeningInput]], list[Verdict]]


@dataclass(frozen=True)
class PostScores:
    """Per-head probabilities for one post: the worst of its windows and its whole-post mean."""

    values: dict[str, float]

    def __getitem__(self, head: str) -> float:
        return self.values[head]


def model_risk(scores: PostScores, head: Head) -> Risk:
    """The model's own level: imminent only where the crisis and the imminence heads agree."""
    t = head.thresholds
    if scores["crisis"] >= t.high:
        return "imminent" if scores["imminent"] >= t.imminent else "high"
    if scores["concern"] >= t.concern:
        return "concern"
    return "none"


def overrules_dismissal(scores: PostScores, thresholds: Thresholds) -> bool:
    """Whether the model's crisis score is high enough to hold a post whose crisis words the rules
    all set aside."""
    override = thresholds.dismissal_override
    return override is not None and scores["crisis"] >= override


#: Posts shorter than this are held only on an explicit rule signal, not on the model alone.
MIN_WORDS_FOR_MODEL_HOLD = 6


#: The reason that names the signs of now which let the model's imminent level stand.
_NOW_SUPPORT = "model imminence supported by signs of now"


def decide(
    scores: PostScores,
    findings: RuleFindings,
    head: Head,
    word_count: int = MIN_WORDS_FOR_MODEL_HOLD,
    text: str | None = None,
    written: str | None = None,
) -> tuple[Risk, list[Category], list[str], list[RuleMatch]]:
    """Combine model and rules into a risk level, categories, readable reasons and the matches they quote.

    A rule's level is never lowered. The model's imminent needs support (see imminence.py);
    without `text` there is no sign of now, only rule signals count. Signs of now are quoted from
    `written` when given (the post as written, when `text` is its screening view).
    """
    reasons: list[str] = []
    matches: list[RuleMatch] = []
    risk = model_risk(scores, head)
    if risk != "none":
        reasons.append(f"model: {risk} (crisis {scores['crisis']:.2f}, imminent {scores['imminent']:.2f})")
    rule_risk: Risk = "none"  # the level the rules alone give the post
    rule_support: Risk = "none"  # the highest level a rule signal speaks of
    for signal in findings.signals:
        matches.append(signal.match(reason=len(reasons)))
        reasons.append(signal.reason)
        if RISK_ORDER[signal.floor] > RISK_ORDER[rule_risk]:
            rule_risk = signal.floor
        if RISK_ORDER[signal.risk] > RISK_ORDER[rule_support]:
            rule_support = signal.risk
    if risk == "imminent":
        # The model alone never pages urgent: a rule signal of danger or a sign of "now" must agree.
        now = signs_of_now(text, quoted_from=written) if text is not None else []
        if RISK_ORDER[rule_support] >= RISK_ORDER["high"]:
            reasons.append("model imminence supported by a rule signal")
        elif now:
            matches.extend(_sign_of_now(words, reason=len(reasons)) for words in now)
            reasons.append(f"{_NOW_SUPPORT}: " + ", ".join(f"'{w}'" for w in now))
        else:
            risk = "high"
            reasons.append("model imminence without a rule signal or sign of now: held, not paged")
    if findings.dismissed and not findings.signals and RISK_ORDER[risk] >= RISK_ORDER["high"]:
        if overrules_dismissal(scores, head.thresholds):
            # The rules and a confident model disagree: a person decides, as when screening fails.
            reasons.append("crisis words set aside by their context, but the model is confident: held")
        else:
            # Every explicit phrase was negated, past, quoted or said in support of someone else:
            # the topic alone does not hold a post. Its author still gets resources.
            risk = "concern"
            reasons.append("crisis topic, but the context says past, negated, quoted or support: not held")
    if not findings.signals and RISK_ORDER[risk] >= RISK_ORDER["high"] and word_count < MIN_WORDS_FOR_MODEL_HOLD:
        # A handful of words gives the encoder too little to go on: "Still here." alone reads like
        # a survivor's post. Without an explicit signal it gets resources, not a hold.
        risk = "concern"
        reasons.append("too short for the model alone to hold")
    for set_aside in findings.set_aside:
        matches.append(set_aside.match(reason=len(reasons)))
        reasons.append(set_aside.reason)
    reasons.extend(findings.context)
    if RISK_ORDER[rule_risk] > RISK_ORDER[risk]:
        risk = rule_risk
    categories = {c for c in CATEGORIES if scores[c] >= head.thresholds.category}
    categories.update(s.category for s in findings.signals)
    if risk == "none":
        categories = set()
    ordered = sorted(
        categories, key=lambda c: -scores[c] - (1.0 if any(s.category == c for s in findings.signals) else 0.0)
    )
    return risk, ordered, reasons, matches


def _sign_of_now(words: str, reason: int) -> RuleMatch:
    return RuleMatch(rule=SIGNS_OF_NOW, label=_NOW_SUPPORT, risk="imminent", words=words, reason=reason)


class Screener:
    def __init__(self, encoder: Encoder, head: Head, policy: Policy | None = None) -> None:
        self._encoder = encoder
        self._head = head
        self._policy = policy or Policy()
        self._version = f"{head.version}+rules-{rule_lists_fingerprint()}"

    @property
    def model_version(self) -> str:
        """The model's version and the rule lists' fingerprint: what decided a verdict."""
        return self._version

    @property
    def encoder(self) -> Encoder:
        return self._encoder

    @property
    def precision(self) -> str:
        """The number format inference runs in (encoder.choose_precision): part of what a report measured."""
        return self._encoder.precision

    @classmethod
    def load(
        cls,
        model_dir: Path | None = None,
        *,
        threads: int = 2,
        policy: Policy | None = None,
        precision: str | None = None,
    ) -> Screener:
        directory = configured_model_dir(model_dir)
        try:
            head = Head.load(directory)
            delta = directory / DELTA_FILE
            if head.needs_delta and not delta.is_file():
                raise HeadLoadError(f"the fine-tuned encoder layers ({DELTA_FILE}) are missing in {directory}")
            encoder = Encoder.load(
                base=head.encoder, threads=threads, delta=delta if head.needs_delta else None, precision=precision
            )
        except (HeadLoadError, EncoderLoadError) as exc:
            raise ScreenerLoadError(str(exc)) from exc
        return cls(encoder, head, policy)

    def post_scores(self, texts: Sequence[str]) -> list[PostScores]:
        windows = self._encoder.windows(texts)
        vectors, spans = self._encoder.embed_windows_and_spans(windows, spans=self._head.span_discount is not None)
        owner = np.asarray(windows.owner)
        results = []
        for index in range(len(texts)):
            mine = np.flatnonzero(owner == index)
            rows = vectors[mine]
            mean = rows.mean(axis=0)
            mean /= max(float(np.linalg.norm(mean)), 1e-9)
            post_spans = np.concatenate([spans[w] for w in mine]) if spans else None
            scores = self._head.post_scores(mean, rows, post_spans)
            results.append(PostScores(dict(zip(HEAD_NAMES, scores.tolist(), strict=True))))
        return results

    def screen_batch(self, items: Sequence[ScreeningInput]) -> list[Verdict]:
        # Rules and model read the canonical form: a zero-width space, a fullwidth letter or a soft
        # hyphen inside a word must not hide it from either.
        texts = [normalize_text(item.full_text) for item in items]
        verdicts: list[Verdict | None] = [None] * len(items)
        to_score = []
        for position, item in enumerate(items):
            if not texts[position].strip():
                verdicts[position] = Verdict(
                    id=item.id,
                    risk="none",
                    categories=[],
                    action=self._policy.action_for("none", item.board_slug),
                    scores={},
                    reasons=["empty"],
                    model_version=self.model_version,
                    matches=[],
                )
            else:
                to_score.append(position)
        # Model, rules and signs of now read the screening view ("k1ll" read as "kill"); matched
        # words are quoted from the post as written.
        views = {p: screening_view(texts[p]) for p in to_score}
        scored = self.post_scores([views[p] for p in to_score]) if to_score else []
        for position, scores in zip(to_score, scored, strict=True):
            item = items[position]
            view = views[position]
            findings = apply_rules(view, quoted_from=texts[position])
            risk, categories, reasons, matches = decide(
                scores, findings, self._head, len(view.split()), view, written=texts[position]
            )
            verdicts[position] = Verdict(
                id=item.id,
                risk=risk,
                categories=categories,
                action=self._policy.action_for(risk, item.board_slug),
                scores={c: round(scores[c], 4) for c in CATEGORIES}
                | {
                    "crisis": round(scores["crisis"], 4),
                    "imminent": round(scores["imminent"], 4),
                },
                reasons=reasons,
                model_version=self.model_version,
                matches=matches,
            )
        return [v for v in verdicts if v is not None]


#: The model version of a verdict no model gave.
FAIL_CLOSED_VERSION = "none (screening failed)"


def fail_closed_verdict(post_id: str, reason: str = "screening failed") -> Verdict:
    """When screening cannot decide, a human does: the post is held, never published unscreened."""
    return Verdict(
        id=post_id,
        risk="high",
        categories=[],
        action="hold",
        scores={},
        reasons=[reason],
        model_version=FAIL_CLOSED_VERSION,
        matches=[],
    )
