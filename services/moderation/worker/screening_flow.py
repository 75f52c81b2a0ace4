"""What happens to a batch of submitted posts: screen, route resources, emit, remember.

Framework-free, so it is tested without faust; `app.py` feeds it from a faust agent.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field

from opentelemetry.trace import Tracer

from services.moderation.resources import ResourceDirectory
from services.moderation.screening import ScreeningInput, fail_closed_verdict
from services.moderation.screening.policy import Policy
from services.moderation.screening.screener import FAIL_CLOSED_VERSION
from services.moderation.worker.fail_closed import FailClosedTally
from services.moderation.worker.inference_deadline import GuardedInference, InferenceStalled
from services.moderation.worker.screening_records import ScreeningRecords
from streams.events import Notification, PostScreened, PostSubmitted, Verdict
from streams.producer import RenewingProducer
from streams.publishing import EventPublisher, PendingSend, all_delivered
from streams.topics import Topics

log = logging.getLogger(__name__)

#: The reason a post held because its inference passed its deadline gives the moderators.
STALLED = "screening stalled"


def screening_key(post_id: str, revision: int) -> str:
    return f"{post_id}:{revision}"


@dataclass
class ScreeningFlow:
    inference: GuardedInference
    policy: Policy
    directory: ResourceDirectory
    producer: RenewingProducer
    topics: Topics
    #: One record per screened revision: redelivered posts are not screened or emitted twice.
    records: ScreeningRecords
    #: Spans of the events it sends; the global (configured or no-op) tracer when None.
    tracer: Tracer | None = None
    fail_closed: FailClosedTally = field(default_factory=FailClosedTally)
    _events: EventPublisher = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self._events = EventPublisher(self.producer, self.topics, tracer=self.tracer)

    async def process(
        self,
        posts: Sequence[PostSubmitted],
        emitting: Callable[[PostSubmitted], AbstractContextManager[object]] | None = None,
    ) -> int:
        """Screen and emit every post not screened before. Returns how many were emitted.

        Each post's events are emitted inside `emitting(post)` (the worker enters the post's own
        trace there, so the verdict's message carries the post's trace context).
        """
        fresh = await self._not_yet_screened(posts)
        if not fresh:
            return 0
        verdicts = await self._screen(fresh)
        await self._emit(fresh, verdicts, emitting or (lambda post: nullcontext()))
        return len(fresh)

    async def _not_yet_screened(self, posts: Sequence[PostSubmitted]) -> list[PostSubmitted]:
        unique: dict[str, PostSubmitted] = {}
        for post in posts:
            unique.setdefault(screening_key(post.post_id, post.revision), post)
        unscreened = await self.records.unscreened(unique)
        return [post for key, post in unique.items() if key in unscreened]

    async def _screen(self, posts: Sequence[PostSubmitted]) -> list[Verdict]:
        inputs = [ScreeningInput(id=p.post_id, text=p.body, title=p.title, board_slug=p.board_slug) for p in posts]
        try:
            verdicts = await self.inference.screen(inputs)
        except InferenceStalled as exc:
            log.error("screening stalled for a batch of %d posts (%s): each is held for a human", len(inputs), exc)
            verdicts = [fail_closed_verdict(item.id, STALLED) for item in inputs]
        except Exception as exc:
            # One post the screener cannot take must not cost the others their verdicts (a crisis
            # post beside it would lose its urgency): each is screened alone, and only a post that
            # fails alone gets the fail-closed verdict (held; a human looks at it).
            log.error("screening failed for a batch of %d posts: %s", len(posts), type(exc).__name__)
            verdicts = [await self._screen_alone(one) for one in inputs]
        failed = Counter(verdict.reasons[0] for verdict in verdicts if verdict.model_version == FAIL_CLOSED_VERSION)
        self.fail_closed.record(len(verdicts) - sum(failed.values()), dict(failed))
        return [
            verdict.model_copy(update={"action": self.policy.action_for(verdict.risk, post.board_slug)})
            for post, verdict in zip(posts, verdicts, strict=True)
        ]

    async def _screen_alone(self, post: ScreeningInput) -> Verdict:
        try:
            [verdict] = await self.inference.screen([post])
        except InferenceStalled:
            return fail_closed_verdict(post.id, STALLED)
        except Exception as exc:
            log.error("screening failed for a post: %s", type(exc).__name__)
            return fail_closed_verdict(post.id)
        return verdict

    async def _emit(
        self,
        posts: Sequence[PostSubmitted],
        verdicts: Sequence[Verdict],
        emitting: Callable[[PostSubmitted], AbstractContextManager[object]],
    ) -> None:
        """Resources, then verdicts, then the records: each send stage handed to the producer in the
        batch's order and acknowledged together, so a batch waits for two acks, not 2 × N. The
        records wait for no database (screening_records.py)."""
        screened: list[PostScreened] = []
        resources_sent: list[PendingSend] = []
        for post, verdict in zip(posts, verdicts, strict=True):
            resources = []
            if verdict.action != "publish":
                resources = self.directory.for_author(post.country, verdict.categories, verdict.risk)
            if resources:
                with emitting(post):
                    resources_sent.append(
                        await self._events.enqueue(
                            Notification(
                                notification_id=f"resources:{screening_key(post.post_id, post.revision)}",
                                recipient_id=post.author_id,
                                kind="resources",
                                post_id=post.post_id,
                                data={
                                    "resources": [r.model_dump() for r in resources],
                                    "urgent": verdict.risk == "imminent",
                                },
                            )
                        )
                    )
            screened.append(
                PostScreened(
                    post_id=post.post_id,
                    thread_id=post.thread_id,
                    board_slug=post.board_slug,
                    author_id=post.author_id,
                    revision=post.revision,
                    kind=post.kind,
                    verdict=verdict,
                    resources=resources,
                    body=post.body,
                    title=post.title,
                    is_thread_start=post.is_thread_start,
                    country=post.country,
                )
            )
        # Resources reach their authors first, before any post of the batch is published or held.
        await all_delivered(resources_sent)
        verdicts_sent = []
        for post, event in zip(posts, screened, strict=True):
            with emitting(post):
                verdicts_sent.append(await self._events.enqueue(event))
        await all_delivered(verdicts_sent)
        await self.records.remember(
            {
                screening_key(event.post_id, event.revision): {
                    "action": event.verdict.action,
                    "risk": event.verdict.risk,
                    "screened_at": event.occurred_at,
                }
                for event in screened
            }
        )
