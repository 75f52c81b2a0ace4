"""What the moderation API writes to Kafka: decisions, and notifications to authors and moderators."""

from __future__ import annotations

from typing import Any

from services.common.identities import Identity
from streams.events import MODERATORS_RECIPIENT as MODERATORS
from streams.events import Decision, ModerationDecided, Notification
from streams.producer import RenewingProducer
from streams.publishing import EventPublisher
from streams.topics import Topics


class ModerationPublisher:
    def __init__(self, producer: RenewingProducer, topics: Topics) -> None:
        self._events = EventPublisher(producer, topics)

    async def _notify(self, notification: Notification) -> None:
        await self._events.publish(notification)

    async def screening_stalled(self, alert: Notification) -> None:
        await self._notify(alert)

    async def new_item(self, item_id: str, post_id: str, level: str) -> None:
        await self._notify(
            Notification(
                notification_id=f"queue.item:{item_id}",
                recipient_id=MODERATORS,
                kind="queue.item",
                post_id=post_id,
                data={"item_id": item_id, "level": level, "urgent": level == "urgent"},
            )
        )

    async def urgent_unclaimed(self, item: dict[str, Any], waited_s: int) -> None:
        await self._notify(
            Notification(
                notification_id=f"queue.unclaimed:{item['_id']}:{item['realerted_at'].isoformat()}",
                recipient_id=MODERATORS,
                kind="queue.unclaimed",
                post_id=item["post_id"],
                data={"item_id": item["_id"], "level": "urgent", "urgent": True, "waited_s": waited_s},
            )
        )

    async def to_moderators(self, kind: str, item: dict[str, Any], moderator: Identity) -> None:
        await self._notify(
            Notification(
                recipient_id=MODERATORS,
                kind=kind,
                post_id=item["post_id"],
                data={"item_id": item["_id"], "moderator_id": moderator.id},
            )
        )

    async def decision(self, item: dict[str, Any], moderator: Identity, decision: Decision, note: str) -> None:
        event = ModerationDecided(
            item_id=item["_id"],
            post_id=item["post_id"],
            thread_id=item["thread_id"],
            author_id=item.get("author_id") or "",
            decision=decision,
            note=note,
            moderator_id=moderator.id,
            revision=item.get("revision", 1),
        )
        await self._events.publish(event)
        if not item.get("author_id"):
            pass  # the author erased their identity: there is nobody to tell
        elif decision == "approve" and is_report(item):
            pass  # a report dismissed: the post was published all along, and reports never reach its author
        elif decision == "approve":
            await self._notify(
                Notification(
                    notification_id=f"decision:{item['_id']}",
                    recipient_id=item["author_id"],
                    kind="post.published",
                    post_id=item["post_id"],
                    data={"approved": True},
                )
            )
        elif decision == "remove":
            await self._notify(
                Notification(
                    notification_id=f"decision:{item['_id']}",
                    recipient_id=item["author_id"],
                    kind="post.removed",
                    post_id=item["post_id"],
                    data={"note": note},
                )
            )
        await self.to_moderators("queue.decided", item, moderator)

    async def message_to_author(self, item: dict[str, Any], text: str, notification_id: str) -> None:
        await self._notify(
            Notification(
                notification_id=notification_id,
                recipient_id=item["author_id"],
                kind="message",
                post_id=item["post_id"],
                data={"text": text, "resources": item.get("resources", [])},
            )
        )


def is_report(item: dict[str, Any]) -> bool:
    """A queue item opened by members' reports on a published post (not by screening)."""
    return item.get("source") == "report" or str(item["_id"]).startswith("report:")
