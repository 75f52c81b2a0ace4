"""haven train-screener refuses token counts a window cannot hold and dropout it cannot use, with a
clear message."""

from __future__ import annotations

import argparse

import pytest

from tools.training.cli import configure


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="haven train-screener")
    configure(parser)
    return parser


def test_token_counts_default_to_the_shipped_recipe_and_accept_a_full_window() -> None:
    defaults = _parser().parse_args([])
    assert (defaults.corpus_tokens, defaults.reddit_tokens) == (256, 128)
    assert _parser().parse_args(["--reddit-tokens", "256"]).reddit_tokens == 256


@pytest.mark.parametrize("value", ["0", "257", "-5", "many"])
def test_token_counts_outside_a_window_are_refused(value: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        _parser().parse_args(["--reddit-tokens", value])
    assert exited.value.code == 2
    assert "--reddit-tokens" in capsys.readouterr().err


def test_attention_dropout_defaults_to_the_shipped_recipe_and_can_be_turned_off() -> None:
    assert _parser().parse_args([]).attention_dropout == 0.1
    assert _parser().parse_args(["--attention-dropout", "0"]).attention_dropout == 0.0


@pytest.mark.parametrize("value", ["1", "-0.1", "1.5", "some"])
def test_attention_dropout_outside_zero_to_one_is_refused(value: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        _parser().parse_args(["--attention-dropout", value])
    assert exited.value.code == 2
    assert "--attention-dropout" in capsys.readouterr().err
