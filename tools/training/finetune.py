"""Fine-tuning the encoder's top layers together with the screening heads, on CPU, seeded.

The layers below the trainable ones stay frozen (with `top_layers=6`: the lower six of
multilingual-e5-small's twelve, or only the word embeddings of six-layer MiniLM). Their output
for every training window is computed once
and kept (float16) in memory, so each epoch, and each cross-validation fold, only
runs the trainable top layers forward and backward. With `top_layers=0` the encoder is frozen
and only the heads are trained (the old design, kept as the baseline the choice is measured
against).

Loss: binary cross-entropy per head, masked where a post has no target for that head (Reddit
posts are labeled only by subreddit), weighted per source and per head's class balance.
"""

from __future__ import annotations

import logging
import math
import random
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, cast

import numpy as np

from services.moderation.screening.encoder import Encoder, arithmetic
from services.moderation.screening.head import HEAD_NAMES
from services.moderation.screening.spans import span_vectors
from tools.training.dropout import use_mask_dropout

if TYPE_CHECKING:
    import torch

    from tools.training.evidence import Readings

log = logging.getLogger(__name__)

#: The fixed scale between the unit-length pooled vector and the heads' logits; folded into the
#: saved head weights, so run time sees an ordinary linear head on normalized embeddings.
LOGIT_SCALE = 20.0


@dataclass(frozen=True)
class FinetuneConfig:
    top_layers: int = 2
    epochs: int = 3
    batch_size: int = 16
    encoder_lr: float = 4e-5
    head_lr: float = 3e-3
    weight_decay: float = 0.01
    seed: int = 20261202
    #: Tokens of a hand-labelled post's first window that training reads (a window is 256).
    corpus_tokens: int = 256
    #: Tokens of a Reddit post's first window that training reads (scoring reads every window in
    #: full): weak labels by subreddit, on long posts, are worth less compute than forum posts.
    reddit_tokens: int = 128
    #: "bf16" runs the top layers under bfloat16 autocast (weights and optimizer stay float32).
    precision: str = "fp32"
    #: Weight of the span loss: the worst span of a post (spans.py) must carry the post's label,
    #: so a crisis sentence inside an ordinary post is found and no span of a safe post looks like
    #: one (a multiple-instance objective). 0 trains the whole-window mean alone.
    span_weight: float = 0.0
    #: Dropout on the fine-tuned layers' attention probabilities. 0.1 is BERT's and the shipped
    #: recipe's; at 0 PyTorch runs its fused CPU attention instead of an unfused softmax plus a
    #: single-threaded mask draw, and an epoch takes about a quarter less time.
    attention_dropout: float = 0.1
    #: How dropout masks are drawn: "words" (16-bit words cut from 64-bit draws, about four times
    #: faster to draw; dropout.py; the shipped model's since 2026-12-04) or "torch" (PyTorch's own
    #: dropout, as the models before it were trained). The same probabilities, different streams.
    dropout_masks: str = "words"


def attention_dropout_for(precision: str) -> float:
    """The recipe's attention dropout in the arithmetic training runs in. Under bfloat16 it is
    0.1, the shipped model's (dropping it saved nothing there). In float32, the arithmetic of CPUs
    whose bfloat16 is not faster, it is 0: PyTorch then takes its fused CPU attention and the
    default run fits in 30 minutes on two cores, and three training draws of each recipe fell
    within one another's spread (training/pending/README.md, 2026-12-04)."""
    return 0.1 if precision == "bf16" else 0.0


@dataclass
class LowerStates:
    """Frozen lower-layer output for each window: a float16 tensor (tokens, hidden) per window."""

    states: list[torch.Tensor]
    owner: np.ndarray  # (windows,) post index of each window
    first_window: np.ndarray  # (posts,) index of each post's first window
    split_layer: int  # the layers from here on are trainable


@dataclass(frozen=True)
class Variants:
    """Another reading of some posts (their careless rewrites, careless_voice.py): each time post
    p comes up in training, its variant's window `first_window[p]` is read in its place with
    probability `rate`; -1 where a post has none. Same labels, same weight, same number of steps."""

    first_window: np.ndarray  # (posts,) window index in the same LowerStates, or -1
    rate: float


@dataclass
class Finetuned:
    """What fine-tuning produced: top-layer weights (empty when frozen) and the linear heads."""

    top_state: dict[str, np.ndarray]  # parameter name in the encoder -> float32 array
    weights: np.ndarray  # (heads, hidden), scale folded in
    bias: np.ndarray  # (heads,)


def lower_states(
    encoder: Encoder, texts: Sequence[str], top_layers: Sequence[int], batch_size: int = 32
) -> dict[int, LowerStates]:
    """Run the frozen lower layers once over every window of every text, keeping the states
    below each of the `top_layers` choices (one pass serves all of them). The pass stops at the
    deepest split: the layers above it are trained, so running them here would be wasted."""
    import torch

    windows = encoder.windows(texts)
    model = encoder.model
    splits = {k: model.config.num_hidden_layers - k for k in top_layers}
    order = sorted(range(len(windows.input_ids)), key=lambda i: len(windows.input_ids[i]))
    states: dict[int, list[torch.Tensor | None]] = {k: [None] * len(order) for k in splits}
    with torch.inference_mode():
        for offset in range(0, len(order), batch_size):
            chunk = order[offset : offset + batch_size]
            ids, mask = encoder.pad([windows.input_ids[i] for i in chunk])
            below = _states_below(model, ids, mask, max(splits.values()))
            for k, split in splits.items():
                hidden = below[split]
                for row, index in enumerate(chunk):
                    states[k][index] = hidden[row, : int(mask[row].sum())].to(torch.float16).clone()
    owner = np.asarray(windows.owner)
    first = np.zeros(len(texts), dtype=np.int64)
    seen: set[int] = set()
    for index, post in enumerate(windows.owner):
        if post not in seen:
            seen.add(post)
            first[post] = index
    # Every window was in exactly one chunk above, so no slot is left None.
    return {k: LowerStates(cast("list[torch.Tensor]", states[k]), owner, first, split) for k, split in splits.items()}


def _states_below(model: Any, ids: torch.Tensor, mask: torch.Tensor, deepest: int) -> list[torch.Tensor]:
    """The embeddings' output and each layer's output up to layer `deepest`, as the whole
    model's `hidden_states` would give them."""
    hidden = model.embeddings(input_ids=ids)
    return [hidden, *_through_layers(model.encoder.layer[:deepest], model.config, hidden, mask)]


def _through_layers(
    layers: torch.nn.ModuleList, config: Any, hidden: torch.Tensor, mask: torch.Tensor
) -> list[torch.Tensor]:
    """Each encoder layer's output in turn, the first layer reading `hidden`."""
    from transformers.masking_utils import create_bidirectional_mask

    outputs: list[torch.Tensor] = []
    if len(layers):
        attention = create_bidirectional_mask(config=config, inputs_embeds=hidden, attention_mask=mask)
        for layer in layers:
            out = layer(hidden, attention_mask=attention)
            hidden = out[0] if isinstance(out, tuple) else out
            outputs.append(hidden)
    return outputs


class _TopModel:
    """The trainable top layers (deep copies of the encoder's) and the heads."""

    def __init__(self, encoder: Encoder, split: int, config: FinetuneConfig) -> None:
        import copy

        import torch

        base = encoder.model
        self.config = config
        self.split = split
        self.model_config = base.config
        self.layers = torch.nn.ModuleList(
            [copy.deepcopy(base.encoder.layer[i]) for i in range(split, base.config.num_hidden_layers)]
        )
        for layer in self.layers:
            attention: Any = layer.attention  # a BertAttention; torch types submodules loosely
            attention.self.dropout.p = config.attention_dropout
        self.head = torch.nn.Linear(base.config.hidden_size, len(HEAD_NAMES))
        torch.nn.init.normal_(self.head.weight, std=0.02)
        torch.nn.init.zeros_(self.head.bias)

    def parameters_groups(self) -> list[dict[str, Any]]:
        return [
            {
                "params": list(self.layers.parameters()),
                "lr": self.config.encoder_lr,
                "weight_decay": self.config.weight_decay,
            },
            {"params": list(self.head.parameters()), "lr": self.config.head_lr, "weight_decay": 0.0},
        ]

    def train(self, mode: bool) -> None:
        self.layers.train(mode)
        self.head.train(mode)

    def top_states(self, hidden: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        outputs = _through_layers(self.layers, self.model_config, hidden, mask)
        return outputs[-1] if outputs else hidden

    @staticmethod
    def mean_pooled(hidden: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        import torch

        weights = mask.unsqueeze(-1).to(hidden.dtype)
        pooled = (hidden * weights).sum(1) / weights.sum(1).clamp(min=1e-9)
        return torch.nn.functional.normalize(pooled, dim=1)

    def logits(
        self, hidden: torch.Tensor, mask: torch.Tensor, spans: bool = False
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Each head's logit on the window's mean and, if asked, on its worst span."""
        states = self.top_states(hidden, mask)
        whole: torch.Tensor = self.head(self.mean_pooled(states, mask) * LOGIT_SCALE)
        if not spans:
            return whole, None
        vectors, real = span_vectors(states.float(), mask)
        by_span = self.head(vectors * LOGIT_SCALE).masked_fill(~real.unsqueeze(-1), float("-inf"))
        return whole, by_span.max(dim=1).values


def _batch(
    states: Sequence[torch.Tensor],
    indices: Sequence[int],
    limits: Sequence[int] | None,
    starts: Sequence[int] | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    import torch

    if limits is None:
        rows = [states[i] for i in indices]
    else:
        froms = starts or [0] * len(indices)
        rows = [states[i][at : at + limit] for i, limit, at in zip(indices, limits, froms, strict=True)]
    width = max(r.shape[0] for r in rows)
    hidden = torch.zeros((len(rows), width, rows[0].shape[1]), dtype=torch.float32)
    mask = torch.zeros((len(rows), width), dtype=torch.long)
    for row, tensor in enumerate(rows):
        hidden[row, : tensor.shape[0]] = tensor.float()
        mask[row, : tensor.shape[0]] = 1
    return hidden, mask


def _length_batches(lengths: Sequence[int], indices: Sequence[int], size: int, rng: random.Random) -> list[list[int]]:
    """Shuffled batches of similar length: sort within pools of 8 batches, then shuffle the batches."""
    shuffled = list(indices)
    rng.shuffle(shuffled)
    batches: list[list[int]] = []
    pool = size * 8
    for offset in range(0, len(shuffled), pool):
        chunk = sorted(shuffled[offset : offset + pool], key=lambda i: lengths[i])
        batches.extend(chunk[i : i + size] for i in range(0, len(chunk), size))
    rng.shuffle(batches)
    return batches


def train(
    encoder: Encoder,
    lower: LowerStates,
    targets: np.ndarray,
    target_mask: np.ndarray,
    sample_weight: np.ndarray,
    train_posts: Sequence[int],
    config: FinetuneConfig,
    weakly_labeled: np.ndarray | None = None,
    variants: Variants | None = None,
    readings: Readings | None = None,
) -> Finetuned:
    """Fit the top layers and heads on `train_posts` (indices into the posts behind `lower`).
    A weakly labeled post (Reddit) is read to `config.reddit_tokens`, a hand-labelled one to
    `config.corpus_tokens`, from its first token; a post with a variant is sometimes read as it
    (`Variants`); a post with a place in `readings` is read there instead (evidence.py)."""
    import torch

    torch.manual_seed(config.seed)
    rng = random.Random(config.seed)
    top = _TopModel(encoder, lower.split_layer, config)
    if config.dropout_masks == "words":
        use_mask_dropout(top.layers)
    optimizer = torch.optim.AdamW(top.parameters_groups())
    # Composed posts (after the posts themselves) are never read elsewhere.
    elsewhere, start_at = np.full(len(targets), -1), np.zeros(len(targets), dtype=int)
    if readings is not None:
        elsewhere[: len(readings.window)], start_at[: len(readings.start)] = readings.window, readings.start
    first = [int(elsewhere[p]) if elsewhere[p] >= 0 else int(lower.first_window[p]) for p in train_posts]
    starts = [int(start_at[p]) for p in train_posts]
    # Its own stream, drawn from only for a post with a variant: without them the recipe is unchanged.
    reading = random.Random(config.seed + 1)
    variant_first = [-1 if variants is None else int(variants.first_window[p]) for p in train_posts]
    variant_rate = 0.0 if variants is None else variants.rate
    weak = np.zeros(len(targets), dtype=bool) if weakly_labeled is None else weakly_labeled
    limits = [config.reddit_tokens if weak[p] else config.corpus_tokens for p in train_posts]
    lengths = [min(limit, lower.states[w].shape[0] - at) for limit, w, at in zip(limits, first, starts, strict=True)]
    local = list(range(len(train_posts)))
    steps_per_epoch = math.ceil(len(local) / config.batch_size)
    total = max(1, steps_per_epoch * config.epochs)
    warmup = max(1, total // 10)
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda step: min(1.0, (step + 1) / warmup) * max(0.0, (total - step) / max(1, total - warmup))
    )
    y = torch.tensor(targets[list(train_posts)], dtype=torch.float32)
    m = torch.tensor(target_mask[list(train_posts)], dtype=torch.float32)
    w = torch.tensor(sample_weight[list(train_posts)], dtype=torch.float32)
    # Class balance per head: positives weigh (negatives / positives), capped.
    positives = (y * m).sum(0)
    negatives = ((1 - y) * m).sum(0)
    pos_weight = torch.clamp(negatives / positives.clamp(min=1.0), min=1.0, max=8.0)
    loss_fn = torch.nn.BCEWithLogitsLoss(reduction="none", pos_weight=pos_weight)
    top.train(True)
    for epoch in range(config.epochs):
        running = 0.0
        for batch in _length_batches(lengths, local, config.batch_size, rng):
            places = [
                (variant_first[i], 0)
                if variant_first[i] >= 0 and reading.random() < variant_rate
                else (first[i], starts[i])
                for i in batch
            ]
            hidden, mask = _batch(
                lower.states, [w for w, _ in places], [limits[i] for i in batch], [at for _, at in places]
            )
            with arithmetic(config.precision):
                whole, worst_span = top.logits(hidden, mask, spans=bool(config.span_weight))
            per = loss_fn(whole.float(), y[batch])
            if worst_span is not None:
                per = per + config.span_weight * loss_fn(worst_span.float(), y[batch])
            per = per * m[batch]
            loss = (per.sum(1) * w[batch]).sum() / (m[batch].sum(1) * w[batch]).sum().clamp(min=1.0)
            optimizer.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(top.layers.parameters(), 1.0)
            optimizer.step()
            scheduler.step()
            running += loss.item()
        log.info("epoch %d/%d: mean loss %.4f", epoch + 1, config.epochs, running / max(1, steps_per_epoch))
    top.train(False)
    state = {
        f"encoder.layer.{lower.split_layer + offset}.{name}": tensor.detach().numpy().astype(np.float32)
        for offset, layer in enumerate(top.layers)
        for name, tensor in layer.state_dict().items()
    }
    weights = top.head.weight.detach().numpy().astype(np.float32) * LOGIT_SCALE
    return Finetuned(state, weights, top.head.bias.detach().numpy().astype(np.float32))


def window_embeddings(
    encoder: Encoder,
    lower: LowerStates,
    fitted: Finetuned,
    windows: Sequence[int],
    batch_size: int = 32,
    precision: str = "fp32",
) -> tuple[np.ndarray, list[np.ndarray]]:
    """Unit-length embeddings of the given windows through the fitted top layers, and each
    window's span vectors (spans.py), as the screener computes them at run time."""
    import torch

    config = FinetuneConfig(top_layers=encoder.model.config.num_hidden_layers - lower.split_layer)
    top = _TopModel(encoder, lower.split_layer, config)
    if fitted.top_state:
        for offset, layer in enumerate(top.layers):
            prefix = f"encoder.layer.{lower.split_layer + offset}."
            layer.load_state_dict(
                {k[len(prefix) :]: torch.from_numpy(v) for k, v in fitted.top_state.items() if k.startswith(prefix)}
            )
    top.train(False)
    order = sorted(windows, key=lambda i: lower.states[i].shape[0])
    out = np.zeros((len(windows), encoder.model.config.hidden_size), dtype=np.float32)
    spans: list[np.ndarray] = [out[:0]] * len(windows)
    position = {w: n for n, w in enumerate(windows)}
    with torch.inference_mode():
        for offset in range(0, len(order), batch_size):
            chunk = order[offset : offset + batch_size]
            hidden, mask = _batch(lower.states, chunk, None)
            with arithmetic(precision):
                states = top.top_states(hidden, mask)
                pooled = top.mean_pooled(states, mask).float().numpy()
            vectors, real = span_vectors(states.float(), mask)
            for row, index in enumerate(chunk):
                out[position[index]] = pooled[row]
                spans[position[index]] = vectors[row][real[row]].numpy()
    return out, spans


def targets_matrix(rows: Sequence[dict[str, float] | None]) -> tuple[np.ndarray, np.ndarray]:
    """Targets and their mask, one row per post and one column per head."""
    y = np.zeros((len(rows), len(HEAD_NAMES)), dtype=np.float32)
    mask = np.zeros_like(y)
    for i, row in enumerate(rows):
        for j, name in enumerate(HEAD_NAMES):
            if row is not None and name in row:
                y[i, j] = row[name]
                mask[i, j] = 1.0
    return y, mask


__all__ = [
    "FinetuneConfig",
    "Finetuned",
    "LowerStates",
    "attention_dropout_for",
    "lower_states",
    "targets_matrix",
    "train",
    "window_embeddings",
]
