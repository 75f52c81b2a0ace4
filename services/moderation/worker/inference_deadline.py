"""Inference with a deadline: a screener that hangs must not keep posts, and their authors'
resources, waiting for ever.

A thread cannot be stopped from outside. Past its deadline a batch is failed closed by the flow
(held for a human, resources sent) and the inference is left to finish on its own. Until it does,
later batches are failed closed at once instead of queueing behind it, and the worker's /healthz
says so: only a new process gets a working inference thread back, so the kubelet restarts it.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Executor
from dataclasses import dataclass

from services.moderation.screening.screener import ScreenBatch, ScreeningInput
from streams.events import Verdict

log = logging.getLogger(__name__)


class InferenceStalled(Exception):
    """The batch was not screened: its inference passed its deadline, or an earlier one still runs."""


@dataclass(frozen=True)
class InferenceDeadline:
    base_s: float = 30.0
    #: Five times slower than the slowest CPU measured (an AVX2-only EPYC screened about 5,000
    #: characters a second of long posts), so a batch of long posts is never cut short by size.
    chars_per_s: float = 1_000.0

    def for_batch(self, inputs: Sequence[ScreeningInput]) -> float:
        characters = sum(len(item.text) + len(item.title or "") for item in inputs)
        return self.base_s + characters / self.chars_per_s


class GuardedInference:
    def __init__(
        self,
        screen_batch: ScreenBatch,
        executor: Executor,
        deadline: InferenceDeadline | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._screen_batch = screen_batch
        self._executor = executor
        self._deadline = deadline or InferenceDeadline()
        self._clock = clock
        self._running: asyncio.Future[list[Verdict]] | None = None
        self._overdue_since: float | None = None

    def stalled_for(self) -> float | None:
        """Seconds since the inference still running passed its deadline; None when none has."""
        if self._overdue_since is None or self._running is None or self._running.done():
            return None
        return self._clock() - self._overdue_since

    async def screen(self, inputs: Sequence[ScreeningInput]) -> list[Verdict]:
        if self._running is not None and not self._running.done():
            raise InferenceStalled("an earlier inference is still running")
        loop = asyncio.get_running_loop()
        started = self._clock()
        running = loop.run_in_executor(self._executor, self._screen_batch, inputs)
        self._running = running
        self._overdue_since = None
        deadline_s = self._deadline.for_batch(inputs)
        try:
            # Shielded: the thread runs on whatever happens to this wait, and the future must
            # stay to tell whether it has finished.
            return await asyncio.wait_for(asyncio.shield(running), deadline_s)
        except TimeoutError:
            self._overdue_since = self._clock()
            running.add_done_callback(lambda future: self._finished_late(future, started))
            raise InferenceStalled(f"no verdicts within {deadline_s:.0f} s") from None

    def _finished_late(self, future: asyncio.Future[list[Verdict]], started: float) -> None:
        if future.cancelled():
            outcome = "cancelled"
        else:
            error = future.exception()  # retrieved, so asyncio does not report it as never retrieved
            outcome = type(error).__name__ if error is not None else "verdicts (discarded)"
        log.warning("an overdue inference ended after %.0f s with %s", self._clock() - started, outcome)
