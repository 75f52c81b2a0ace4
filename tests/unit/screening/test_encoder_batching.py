"""Length-bucketed inference, the number format choice, and the model folder from configuration."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from services.moderation.screening import Screener
from services.moderation.screening import encoder as encoder_module
from services.moderation.screening.encoder import DELTA_FILE, choose_precision, length_batches
from services.moderation.screening.kernels import matmul_speedup
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


def test_a_cheaper_call_cuts_more_batches() -> None:
    lengths = [12, 14, 16, 18, 40, 44, 48, 52, 90, 96, 100, 110] * 2
    assert len(length_batches(lengths, overhead=128)) > len(length_batches(lengths, overhead=384))


@pytest.mark.parametrize("precision", ["fp32", "bf16"])
def test_the_encoder_cuts_batches_at_its_own_number_formats_call_cost(
    screener: Screener, monkeypatch: pytest.MonkeyPatch, precision: str
) -> None:
    encoder = screener.encoder
    overheads: list[int] = []

    def recording(lengths: list[int], limit: int, overhead: int) -> list[list[int]]:
        overheads.append(overhead)
        return length_batches(lengths, limit, overhead)

    monkeypatch.setattr(encoder_module, "length_batches", recording)
    monkeypatch.setattr(encoder, "precision", precision)
    monkeypatch.setattr(
        encoder,
        "_forward_with_spans",
        lambda batch, _precision, spans: (
            np.zeros((len(batch), encoder.model.config.hidden_size), dtype=np.float32),
            [],
        ),
    )
    encoder.embed_windows(encoder.windows(["one short post", "and a second, a little longer one"]))
    assert overheads == [encoder_module.CALL_OVERHEAD_TOKENS[precision]]
    assert encoder_module.CALL_OVERHEAD_TOKENS["fp32"] < encoder_module.CALL_OVERHEAD_TOKENS["bf16"]


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


@pytest.mark.parametrize("forced", ["bf16", "int8"])
def test_a_configured_format_without_a_hardware_path_falls_back_to_float32(
    caplog: pytest.LogCaptureFixture, forced: str
) -> None:
    def reference_kernel(precision: str) -> float:
        assert precision == forced
        return 0.02

    with caplog.at_level("WARNING", logger=encoder_module.__name__):
        assert choose_precision(forced, kernel_speedup=reference_kernel) == "fp32"
    assert f"HAVEN_SCREENER_PRECISION={forced} refused" in caplog.text


@pytest.mark.parametrize("speedup", [0.63, 1.4])
def test_a_configured_format_with_a_hardware_path_is_honoured_even_when_slower(speedup: float) -> None:
    assert choose_precision("bf16", kernel_speedup=lambda _: speedup) == "bf16"
    assert choose_precision("int8", kernel_speedup=lambda _: speedup) == "int8"


def test_float32_is_never_measured() -> None:
    def measure(precision: str) -> float:
        raise AssertionError("float32 is the reference")

    assert choose_precision("fp32", kernel_speedup=measure) == "fp32"


def test_the_kernel_probe_times_this_cpus_products() -> None:
    assert matmul_speedup("fp32") == 1.0
    for precision in ("bf16", "int8"):
        assert matmul_speedup(precision, rounds=1) > 0, f"this torch build multiplies {precision} on the CPU"
    with pytest.raises(ValueError, match="number format"):
        matmul_speedup("fp8")


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
