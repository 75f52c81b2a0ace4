"""Redaction stays linear on hostile input up to the 64 KiB body limit (issue 11).

Every pattern family is fed repetitions of its own fragments, the inputs that made the old
backtracking patterns hold the event loop for seconds. CPU time is measured, so a busy machine
slows the test less than wall time would.
"""

from __future__ import annotations

import pytest

from services.forum.redaction import redact_contact_details
from tools.benchmarks.redaction import ADVERSARIAL_INPUTS, hostile_text, time_redaction

MAX_SECONDS_AT_64_KIB = 0.5
#: Linear work grows 8x from 8 to 64 KiB; quadratic work would grow 64x.
MAX_GROWTH_8_TO_64_KIB = 20
#: Below this, timer noise dominates the ratio: such an input is fast whatever its shape.
NOISE_FLOOR_S = 0.02

CASES = [
    pytest.param(head, fragment, id=f"{family}:{head!r}+{fragment!r}*N")
    for family, inputs in ADVERSARIAL_INPUTS.items()
    for head, fragment in inputs
]


@pytest.fixture(scope="module", autouse=True)
def _warm() -> None:
    redact_contact_details("warm up 555 123 4567 a@b.co", ())


def _best_of(text: str, runs: int = 2) -> float:
    return min(time_redaction(text) for _ in range(runs))


@pytest.mark.parametrize(("head", "fragment"), CASES)
def test_one_hostile_64_kib_body_is_redacted_quickly_and_time_grows_linearly(head: str, fragment: str) -> None:
    small = _best_of(hostile_text(head, fragment, 8 * 1024))
    large = _best_of(hostile_text(head, fragment, 64 * 1024))
    assert large < MAX_SECONDS_AT_64_KIB
    if large > NOISE_FLOOR_S:
        assert large / max(small, NOISE_FLOOR_S / 8) < MAX_GROWTH_8_TO_64_KIB


def test_the_reported_attack_is_now_fast() -> None:
    # 603 characters of "Via la la la ..." held the loop for 17 s before.
    attack = hostile_text("Via ", "la ", 603)
    assert time_redaction(attack) < 0.05
    assert time_redaction(hostile_text("Via ", "la ", 64 * 1024)) < MAX_SECONDS_AT_64_KIB


def test_the_growth_check_would_catch_quadratic_work() -> None:
    # The ratio assertion above is only worth having if a quadratic step fails it.
    def quadratic(size: int) -> int:
        return sum(1 for i in range(size // 16) for _ in range(i))

    import time

    def cpu(size: int) -> float:
        started = time.process_time()
        quadratic(size)
        return time.process_time() - started

    assert cpu(64 * 1024) / max(cpu(8 * 1024), 1e-6) > MAX_GROWTH_8_TO_64_KIB
