"""How fast this CPU multiplies matrices in a number format, against float32.

A CPU without a hardware path for a format still computes it, through a reference kernel that can
be a hundred times slower (bfloat16 and int8 on an AVX2-only AMD EPYC here: 1 and 3 billion
operations a second against float32's 100-140). The encoder asks before honouring a configured
format, so a setting copied from another node cannot stall screening.
"""

from __future__ import annotations

import time
from collections.abc import Callable

#: One production-sized product: a batch of short windows through a feed-forward layer.
_ROWS, _INNER, _COLUMNS = 256, 384, 1536


def matmul_speedup(precision: str, rounds: int = 3) -> float:
    """float32's time over `precision`'s for one product of production size (best of `rounds`,
    after a warm-up); 0.0 where this torch build cannot compute the format at all."""
    if precision == "fp32":
        return 1.0
    import torch

    left = torch.randn(_ROWS, _INNER)
    right = torch.randn(_INNER, _COLUMNS)
    try:
        if precision == "bf16":
            bf16_left, bf16_right = left.bfloat16(), right.bfloat16()
            fast = _best_time(lambda: torch.matmul(bf16_left, bf16_right), rounds)
        elif precision == "int8":
            int8_left = torch.randint(-127, 128, (_ROWS, _INNER), dtype=torch.int8)
            int8_right = torch.randint(-127, 128, (_INNER, _COLUMNS), dtype=torch.int8)
            fast = _best_time(lambda: torch._int_mm(int8_left, int8_right), rounds)
        else:
            raise ValueError(f"unknown number format {precision!r}")
    except (RuntimeError, AttributeError, NotImplementedError):
        return 0.0
    return _best_time(lambda: torch.matmul(left, right), rounds) / max(fast, 1e-9)


def _best_time(run: Callable[[], object], rounds: int) -> float:
    run()
    best = float("inf")
    for _ in range(rounds):
        started = time.perf_counter()
        run()
        best = min(best, time.perf_counter() - started)
    return best
