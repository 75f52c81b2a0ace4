"""Decisions stored but never sent are sent later.

A decision is stored before its event goes out, and the moderator is told to send it again when
Kafka refused it. If they never do (the console closed, the shift ended) the post would stay held
or listed against the decision for good, and only the same moderator could repeat it (anyone else
gets "decided already"). So each decision leaves a marker until its send is confirmed, and markers
older than a request could take are sent from here. Every consumer of the events is idempotent.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta

from pymongo.errors import PyMongoError

from services.common.identities import Identity
from services.moderation.api.publisher import ModerationPublisher
from services.moderation.api.store import ModerationStore, ReviewError
from streams.publishing import EventsUnavailable

log = logging.getLogger(__name__)

#: A marker younger than this may belong to a request still sending its decision.
UNSENT_AFTER = timedelta(seconds=30)
RESEND_EVERY_S = 15.0


async def resend_decisions(review: ModerationStore, publisher: ModerationPublisher) -> int:
    """One round; returns how many decisions were sent. Stops at Kafka's first refusal."""
    sent = 0
    for item_id in await review.unsent_decisions(UNSENT_AFTER):
        try:
            item = await review.item(item_id)
        except ReviewError:
            item = None
        if item is None or item["status"] == "open" or not item.get("decision"):
            # The decision was refused after its marker was written (another moderator's claim):
            # there is nothing to send.
            await review.no_decision_to_send(item_id)
            continue
        if item.get("superseded_by"):
            # The author has edited the post since: the decision on the earlier words must not
            # land on the new ones (the forum removes a post whatever its revision). Its moderator
            # may still send it again by hand.
            await review.decision_sent(item)
            continue
        decided = item["decision"]
        moderator = Identity(id=decided["moderator_id"], kind="moderator", role="moderator")
        try:
            await publisher.decision(item, moderator, decided["decision"], decided["note"])
        except EventsUnavailable:
            break
        await review.decision_sent(item)
        sent += 1
    return sent


async def keep_resending_decisions(
    review: ModerationStore, publisher: ModerationPublisher, every_s: float = RESEND_EVERY_S
) -> None:
    while True:
        try:
            sent = await resend_decisions(review, publisher)
            if sent:
                log.warning("sent %d decision(s) their moderators' requests had not sent", sent)
        except PyMongoError as exc:
            log.warning("resending unsent decisions failed (%s); trying again later", type(exc).__name__)
        await asyncio.sleep(every_s)
