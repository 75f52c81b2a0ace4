"""Posts held because screening failed, counted: one unreadable post is a post for a human, but
every post failing means the screener is broken, and the worker must not look ready then (a
rollout of a broken model stops at its first pod)."""

from __future__ import annotations

from collections.abc import Callable

#: Posts failed closed in a row, with none screened between, before the worker reports it.
UNREADY_AFTER_IN_A_ROW = 3


class FailClosedTally:
    def __init__(self, on_failed: Callable[[str, int], None] | None = None) -> None:
        self._on_failed = on_failed
        self.in_a_row = 0

    def record(self, screened: int, failed: dict[str, int]) -> None:
        """A batch's outcome: how many posts were screened, and how many failed closed, by reason."""
        for reason, count in failed.items():
            if count and self._on_failed is not None:
                self._on_failed(reason, count)
        self.in_a_row = 0 if screened else self.in_a_row + sum(failed.values())

    def problem(self) -> str | None:
        if self.in_a_row >= UNREADY_AFTER_IN_A_ROW:
            return f"screening failed for the last {self.in_a_row} posts (each held for a human)"
        return None
