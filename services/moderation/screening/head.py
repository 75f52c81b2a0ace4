"""The screener's heads: linear, over unit-length sentence embeddings, numpy at run time.

They are trained with the encoder's top layer (finetune.py); a head that needs that fine-tuned
layer says so in head.json (`encoder_delta`), and the screener refuses to load without it.
"""

from __future__ import annotations

import json
from dataclasses import MISSING, dataclass, fields
from pathlib import Path

import numpy as np

from services.moderation.screening.encoder import MINILM
from streams.events import CATEGORIES

HEAD_NAMES: tuple[str, ...] = ("crisis", "imminent", "concern", *CATEGORIES)
WEIGHTS_FILE = "head.npz"
META_FILE = "head.json"


#: How much more alarming (in log-odds) one window must be than the whole post to count.
#: Chosen by cross-validation (r/suicidewatch vs recovery communities); see MODEL_CARD.md.
WINDOW_LOGIT_DISCOUNT = 1.5


def combine_parts(parts: np.ndarray, span_discount: float | None) -> np.ndarray:
    """Probabilities from post parts (..., 3, heads) as `Head.post_logits` gives them.

    The worst window counts, so a crisis passage inside a long post is not averaged away; a
    window must be clearly more alarming than the whole post to raise it, because a single window
    of a long, ordinary post is noisier than the whole. The worst span counts for a head trained
    to give a safe post no alarming span.
    """
    logits = np.maximum(parts[..., 0, :], parts[..., 1, :] - WINDOW_LOGIT_DISCOUNT)
    if span_discount is not None:
        logits = np.maximum(logits, parts[..., 2, :] - span_discount)
    return _sigmoid(logits)


def _sigmoid(logits: np.ndarray) -> np.ndarray:
    probabilities: np.ndarray = 1.0 / (1.0 + np.exp(-np.clip(logits, -30, 30)))
    return probabilities


class HeadLoadError(RuntimeError):
    pass


@dataclass(frozen=True)
class Thresholds:
    high: float
    imminent: float
    concern: float
    category: float
    #: A post whose crisis words the rules all set aside (past, negated, quoted, in support) is
    #: held by the model only at or above this crisis score; None: never (it gets resources).
    dismissal_override: float | None = None

    def as_dict(self) -> dict[str, float]:
        """The thresholds as head.json records them; an absent override is left out, so older
        records (and the fingerprints made from them) stay as they were."""
        values = {field.name: getattr(self, field.name) for field in fields(self)}
        return {name: value for name, value in values.items() if value is not None}


@dataclass(frozen=True)
class Head:
    weights: np.ndarray  # (heads, dim)
    bias: np.ndarray  # (heads,)
    thresholds: Thresholds
    version: str
    #: Whether this head was trained on a fine-tuned encoder whose layers ship beside it.
    needs_delta: bool = False
    #: The base encoder it was trained on (`encoder.BASE_ENCODERS`).
    encoder: str = MINILM
    #: For a head trained on spans (spans.py): how far below the worst span's logit the post's
    #: logit may sit. None: spans are not read.
    span_discount: float | None = None

    def scores(self, vectors: np.ndarray) -> np.ndarray:
        """Per-head probabilities, one row per input vector."""
        return _sigmoid(vectors @ self.weights.T + self.bias)

    def post_logits(self, mean: np.ndarray, windows: np.ndarray, spans: np.ndarray | None = None) -> np.ndarray:
        """Per-head logits of one post's parts, (3, heads): its whole-post mean, its worst window
        and its worst span (-inf without spans)."""
        whole = mean @ self.weights.T + self.bias
        worst_window = (windows @ self.weights.T + self.bias).max(axis=0)
        if spans is None or not len(spans):
            worst_span = np.full_like(whole, -np.inf)
        else:
            worst_span = (spans @ self.weights.T + self.bias).max(axis=0)
        return np.stack([whole, worst_window, worst_span])

    def post_scores(self, mean: np.ndarray, windows: np.ndarray, spans: np.ndarray | None = None) -> np.ndarray:
        """Per-head probabilities of one post, from its whole-post mean, each of its windows and,
        for a head trained on spans, each span of its windows."""
        return combine_parts(self.post_logits(mean, windows, spans), self.span_discount)

    def save(self, directory: Path, metadata: dict[str, object]) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        np.savez_compressed(
            directory / WEIGHTS_FILE, weights=self.weights.astype(np.float32), bias=self.bias.astype(np.float32)
        )
        meta = {
            "version": self.version,
            "heads": list(HEAD_NAMES),
            "thresholds": self.thresholds.as_dict(),
            "encoder_delta": self.needs_delta,
            "encoder": self.encoder,
            **({} if self.span_discount is None else {"span_logit_discount": self.span_discount}),
            **metadata,
        }
        (directory / META_FILE).write_text(json.dumps(meta, indent=2) + "\n")

    @classmethod
    def load(cls, directory: Path) -> Head:
        try:
            meta = json.loads((directory / META_FILE).read_text())
            with np.load(directory / WEIGHTS_FILE) as arrays:
                weights, bias = arrays["weights"].astype(np.float32), arrays["bias"].astype(np.float32)
        except (OSError, ValueError, KeyError) as exc:
            raise HeadLoadError(f"the screening head in {directory} is missing or corrupt: {exc}") from exc
        if (
            tuple(meta.get("heads", ())) != HEAD_NAMES
            or weights.shape[0] != len(HEAD_NAMES)
            or bias.shape != (len(HEAD_NAMES),)
        ):
            raise HeadLoadError(f"the screening head in {directory} does not match this code's heads")
        if not np.all(np.isfinite(weights)) or not np.all(np.isfinite(bias)):
            raise HeadLoadError(f"the screening head in {directory} holds non-finite weights")
        return cls(
            weights,
            bias,
            _thresholds(meta.get("thresholds")),
            meta["version"],
            bool(meta.get("encoder_delta", False)),
            str(meta.get("encoder", MINILM)),
            _optional_float(meta.get("span_logit_discount")),
        )


def _thresholds(record: object) -> Thresholds:
    """The thresholds of a head.json, every one a probability; the override may be absent."""
    required = [field.name for field in fields(Thresholds) if field.default is MISSING]
    optional = [field.name for field in fields(Thresholds) if field.default is not MISSING]
    if not isinstance(record, dict) or not set(required) <= set(record) <= {*required, *optional}:
        raise HeadLoadError(f"the head's thresholds must be {', '.join(required)} and optionally {', '.join(optional)}")
    values = {}
    for name, value in record.items():
        if value is None and name in optional:
            continue
        if isinstance(value, bool) or not isinstance(value, int | float) or not 0.0 <= value <= 1.0:
            raise HeadLoadError(f"threshold {name} must be a number from 0 to 1, not {value!r}")
        values[name] = float(value)
    return Thresholds(**values)


def _optional_float(value: object) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not np.isfinite(value):
        raise HeadLoadError(f"span_logit_discount must be a number, not {value!r}")
    return float(value)
