"""Length-bucketed inference, the number format choice, and the model folder from configuration."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from services.moderation.screening import Screener
from services.moderation.screening import encoder as encoder_module
from services.moderation.screening.encoder import DELTA_FILE, choose_precision, length_batches
from services.moderation.screening.screener import MODEL_DIR, MODEL_ENV, configured_model_dir
from streams.settings import Settings


def test_length_batches_cover_every_window_once_and_keep_long_ones_apart() -> None:
    lengths = [20, 25, 30, 28, 250, 240, 22, 40, 41, 100] * 7
    batches = length_batches(lengths)
    flat = [i for batch in batches for i in batch]
    assert sorted(flat) == list(range(len(lengths)))
    assert all(1 <= len(batch) <= 32 for batch in batches)
    # A short window never shares a batch (and its padding) with a 240-token one.
    for batch in batches:
        sizes = [lengths[i] for i in batch]
        assert not (min(sizes) <= 41 and max(sizes) >= 240)


def test_similar_short_windows_share_one_call() -> None:
    assert len(length_batches([30] * 32)) == 1
    assert length_batches([]) == []


def test_precision_is_forced_by_configuration_or_chosen_by_the_cpu() -> None:
    assert choose_precision(Settings.from_env({"HAVEN_SCREENER_PRECISION": "fp32"}).screener_precision) == "fp32"
    assert choose_precision(Settings.from_env({"HAVEN_SCREENER_PRECISION": "auto"}).screener_precision) in (
        "fp32",
        "bf16",
    )
    with pytest.raises(ValueError, match="HAVEN_SCREENER_PRECISION"):
        Settings.from_env({"HAVEN_SCREENER_PRECISION": "fp8"})


@pytest.mark.parametrize(
    ("speedup", "cosine", "chosen"),
    [(2.1, 0.9999, "bf16"), (0.6, 0.9999, "fp32"), (1.1, 0.9999, "fp32"), (2.1, 0.99, "fp32")],
)
def test_bfloat16_is_chosen_only_when_measured_faster_and_faithful(
    monkeypatch: pytest.MonkeyPatch, speedup: float, cosine: float, chosen: str
) -> None:
    monkeypatch.setattr(encoder_module, "cpu_has_bf16", lambda: True)
    assert choose_precision(None, lambda: (speedup, cosine)) == chosen
    assert choose_precision("fp32", lambda: (speedup, cosine)) == "fp32", "configuration wins"


def test_without_bfloat16_hardware_nothing_is_measured(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(encoder_module, "cpu_has_bf16", lambda: False)

    def measure() -> tuple[float, float]:
        raise AssertionError("no probe without bfloat16 hardware")

    assert choose_precision("auto", measure) == "fp32"


def test_the_probe_measures_the_loaded_encoder(screener: Screener) -> None:
    speedup, cosine = screener.encoder.probe_bf16(rounds=1)
    assert speedup > 0
    assert 0.99 < cosine <= 1.0001, "bfloat16 embeddings point where float32's do"


def test_the_live_model_folder_is_configuration() -> None:
    assert configured_model_dir(Settings.from_env({}).screener_model) == MODEL_DIR
    chosen = Settings.from_env({MODEL_ENV: "/srv/models/candidate"}).screener_model
    assert configured_model_dir(chosen) == Path("/srv/models/candidate")


def test_a_head_that_needs_fine_tuned_layers_refuses_to_load_without_them(tmp_path: Path) -> None:
    from services.moderation.screening import Screener, ScreenerLoadError

    folder = tmp_path / "model"
    shutil.copytree(MODEL_DIR, folder)
    meta = json.loads((folder / "head.json").read_text())
    meta["encoder_delta"] = True
    (folder / "head.json").write_text(json.dumps(meta))
    (folder / DELTA_FILE).unlink(missing_ok=True)
    with pytest.raises(ScreenerLoadError):
        Screener.load(folder)
    (folder / DELTA_FILE).write_bytes(b"not safetensors")
    with pytest.raises(ScreenerLoadError):
        Screener.load(folder)
