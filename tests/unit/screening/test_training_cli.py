"""haven train-screener refuses token counts a window cannot hold, with a clear message."""

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
