"""The pipeline under faults, on a Haven of its own (broker, databases, services): every accepted
post ends in exactly one terminal state, nothing is lost or listed twice, and a crisis post
survives its moderation database frozen for 100 s and every database killed for a minute, with its
author's resources delivered while they are gone."""

from __future__ import annotations

import asyncio
import signal
import sys
import uuid
from collections.abc import AsyncIterator

import aiohttp
import pytest

from tests.harness import ForumClient, StackUnderTest, open_event_stream
from tools.faults import (
    FaultRig,
    broker_stopped,
    databases_killed,
    databases_paused,
    moderation_db_paused,
    resources_while_databases_gone,
    rolling_restart,
    verdicts_replayed,
    worker_killed_mid_batch,
    worker_stalled,
)
from tools.localstack.components import StackPaths

pytestmark = pytest.mark.integration

#: What a member may get instead of 202 while a part is down: never a 500.
HONEST_REFUSALS = {"503", "no answer"}
#: What each service's /readyz says while the databases are gone: still in rotation, so that a
#: cluster keeps routing to it (refusals with crisis lines, open streams), naming what fails.
STILL_SERVING_WITHOUT_DATABASE = {
    "forum": "degraded: database",
    "moderation-api": "degraded: database",
    "notify": "degraded: database",
}


@pytest.fixture(scope="module")
async def rig(
    stack: StackUnderTest, tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest
) -> AsyncIterator[FaultRig]:
    work_dir = tmp_path_factory.mktemp("faults")
    failed_before = request.session.testsfailed
    rig = await FaultRig.start(stack.settings, work_dir)
    try:
        yield rig
    finally:
        rig.stop()
        if request.session.testsfailed > failed_before:
            _show_rig_logs(rig)


def _show_rig_logs(rig: FaultRig, lines: int = 40) -> None:
    """A failed fault test leaves the tails of its services' and broker's logs in the run's output
    (CI keeps nothing else). The services never log post bodies or tokens, and the broker's own
    log holds no record contents; the databases' logs are left out."""
    broker_logs = sorted(StackPaths.from_settings(rig.kafka).kafka_logs.glob("*.log"))
    for path in [*sorted(rig.group.log_dir.glob("*.log")), *broker_logs]:
        tail = path.read_text(errors="replace").splitlines()[-lines:]
        print(f"\n--- last {len(tail)} lines of {path} ---", file=sys.__stderr__)
        print("\n".join(tail), file=sys.__stderr__)


async def test_killing_the_worker_mid_batch_loses_nothing(rig: FaultRig) -> None:
    async with aiohttp.ClientSession() as http:
        result = await worker_killed_mid_batch(rig, http, posts=45, rate=10.0)
    assert result.accepted == 45
    assert (result.terminal, result.lost, result.duplicated) == (45, 0, 0), result


async def test_a_broker_outage_refuses_honestly_and_loses_nothing_it_accepted(rig: FaultRig) -> None:
    async with aiohttp.ClientSession() as http:
        result = await broker_stopped(rig, http, posts=40, rate=1.0, down_s=30)
    assert result.refused > 0, "posts sent while the broker was away are refused with 503, not accepted"
    assert set(result.refused_by) <= HONEST_REFUSALS, result.refused_by
    assert result.refused_with_crisis_lines == result.refused_by.get("503", 0), "every 503 carries crisis lines"
    assert result.refused_with_own_country_lines == result.refused_with_crisis_lines, "the member's country's lines"
    assert result.accepted > 0
    assert (result.terminal, result.lost, result.duplicated) == (result.accepted, 0, 0), result


async def test_a_rolling_restart_of_every_service_loses_nothing_it_accepted(rig: FaultRig) -> None:
    async with aiohttp.ClientSession() as http:
        result = await rolling_restart(rig, http, posts=60, rate=4.0)
    assert result.accepted > 0
    assert (result.terminal, result.lost, result.duplicated) == (result.accepted, 0, 0), result


async def test_a_crisis_post_survives_a_100_s_outage_of_the_moderation_database(rig: FaultRig) -> None:
    token = rig.add_moderator(f"night_{uuid.uuid4().hex[:6]}")
    async with aiohttp.ClientSession() as http:
        result = await moderation_db_paused(rig, http, token, paused_s=100)
    assert (result.accepted, result.lost) == (3, 0), result
    assert result.notes["post_status"] == "held"
    assert result.notes["queue_level"] == "urgent", result.notes
    assert result.notes["moderators_alerted"] is True, result.notes
    # The worrying reply's verdict came first in the thread's partition and waited for the database.
    assert (result.notes["worrying_reply_status"], result.notes["worrying_reply_queue_level"]) == ("held", "hold")
    # Paged while the database was still away, not once it came back, though queued behind that one.
    assert result.notes["moderators_paged_while_paused_after_s"] is not None, result.notes


async def test_replaying_the_verdicts_pages_the_moderators_about_nothing_they_already_had(rig: FaultRig) -> None:
    token = rig.add_moderator(f"replay_{uuid.uuid4().hex[:6]}")
    async with aiohttp.ClientSession() as http:
        result = await verdicts_replayed(rig, http, token)
    notes = result.notes
    assert (result.accepted, result.lost) == (1, 0), result
    assert notes["verdicts_replayed"] >= 1 and notes["items_paged_before"] >= 1, notes
    assert notes["items_paged_again"] == [], notes
    assert notes["pages_after"] == notes["pages_before"], notes
    assert (notes["crisis_item_pages"], notes["queue_level_after"]) == (1, "urgent"), notes


async def test_a_frozen_worker_alerts_the_moderators_and_catches_up(rig: FaultRig) -> None:
    token = rig.add_moderator(f"watch_{uuid.uuid4().hex[:6]}")
    async with aiohttp.ClientSession() as http:
        result = await worker_stalled(rig, http, token)
    alerted_after = result.notes["moderators_alerted_after_s"]
    assert alerted_after is not None, "queue.stalled reached the moderators"
    assert alerted_after >= rig.settings.screening_stalled_after_s
    assert (result.accepted, result.terminal, result.lost) == (1, 1, 0), result


async def test_a_restarted_notify_does_not_replay_old_notifications_to_live_streams(rig: FaultRig) -> None:
    async with aiohttp.ClientSession() as http:
        member = await ForumClient.join(http, rig.group.url("forum"))
        status, posted = await member.request(
            "POST", "/v1/boards/newcomers/threads", json={"title": "Evening", "body": "Day 40, quiet and fine."}
        )
        assert status == 202
        stream = await open_event_stream(http, rig.group.url("notify"), member.token or "")
        try:
            await stream.wait_for("post.published", timeout=120)
        finally:
            stream.close()
        notify = rig.group.processes["notify"]
        notify.send_signal(signal.SIGTERM)
        await asyncio.to_thread(notify.wait, 60)
        rig.group.start("notify")
        await rig.group.wait_ready()
        stream = await open_event_stream(http, rig.group.url("notify"), member.token or "")
        try:
            await asyncio.sleep(8)
            assert [e.get("event") for e in stream.events] == [], "nothing old is pushed again"
        finally:
            stream.close()
        inbox_reader = ForumClient(http, rig.group.url("notify"), token=member.token)
        status, inbox = await inbox_reader.request("GET", "/v1/notifications")
        assert status == 200
        published = [n for n in inbox["items"] if n["kind"] == "post.published" and n["post_id"] == posted["post_id"]]
        assert len(published) == 1, "the inbox holds it once"


async def test_every_database_paused_90_s_with_a_crisis_post_in_flight_loses_nothing(rig: FaultRig) -> None:
    token = rig.add_moderator(f"dbpause_{uuid.uuid4().hex[:6]}")
    async with aiohttp.ClientSession() as http:
        result = await databases_paused(rig, http, token, paused_s=90)
    assert (result.accepted, result.lost) == (1, 0), result
    assert result.notes["post_status"] == "held"
    assert result.notes["queue_level"] == "urgent", result.notes
    assert result.notes["moderators_alerted"] is True, result.notes
    assert result.notes["readiness_during_pause"] == STILL_SERVING_WITHOUT_DATABASE, result.notes


async def test_every_database_killed_for_a_minute_while_members_post_loses_nothing(rig: FaultRig) -> None:
    token = rig.add_moderator(f"dbkill_{uuid.uuid4().hex[:6]}")
    async with aiohttp.ClientSession() as http:
        result = await databases_killed(rig, http, token, posts=40, rate=2.0, down_s=60)
    assert result.accepted + result.refused == 40
    assert result.refused >= 1, "a submission while the forum's database is gone is refused, not stored half"
    assert set(result.refused_by) <= HONEST_REFUSALS, result.refused_by
    assert result.refused_with_crisis_lines == result.refused_by.get("503", 0), "every 503 carries crisis lines"
    assert result.refused_with_own_country_lines == result.refused_with_crisis_lines, "the member's country's lines"
    assert (result.lost, result.duplicated) == (0, 0), result
    assert result.terminal == result.accepted
    assert result.notes["crisis_post_status"] == "held", result.notes
    assert result.notes["queue_level"] == "urgent", result.notes
    assert result.notes["moderators_alerted"] is True, result.notes
    assert result.notes["readiness_during_outage"] == STILL_SERVING_WITHOUT_DATABASE, result.notes


async def test_authors_get_their_resources_while_every_database_is_gone_even_after_a_reconnect(
    rig: FaultRig,
) -> None:
    async with aiohttp.ClientSession() as http:
        result = await resources_while_databases_gone(rig, http, down_s=45)
    notes = result.notes
    assert notes["resources_after_s"] is not None, "the open stream got the resources before any database was back"
    assert notes["resources_id_while_down"] is None, "pushed unstored, so a reconnect still replays it"
    assert notes["reconnect_status"] == 200, "a member notify had seen lately can open their stream again"
    assert notes["reconnected_resources_after_s"] is not None, notes
    assert notes["reconnected_resources_id_while_down"] is None, "no id while the replay is owed"
    assert notes["reconnected_replay_id"], "once the databases were back, a reconnect replays them with an id"
    assert (result.accepted, result.terminal, result.lost) == (3, 3, 0), result
    assert notes["post_status"] == ["held", "held"], notes
    assert notes["resources_in_inbox"] == [1, 1], "stored once the databases were back, and only once"
