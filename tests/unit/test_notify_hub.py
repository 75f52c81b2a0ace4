"""The notify hub: a bounded number of streams per identity, and streams that end on revocation."""

from __future__ import annotations

import pytest

from services.notify.hub import REVOKED_FOR_S, Hub, IdentityRevoked, StreamLimitReached


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def hub(clock: FakeClock) -> Hub:
    return Hub(max_streams_per_identity=2, clock=clock)


def test_an_identity_gets_at_most_n_streams_and_a_closed_one_frees_its_slot(hub: Hub) -> None:
    first, second = hub.open("u1", ["u1"]), hub.open("u1", ["u1"])
    with pytest.raises(StreamLimitReached):
        hub.open("u1", ["u1"])
    other = hub.open("u2", ["u2"])  # the limit is per identity, not per instance
    hub.close(first)
    hub.close(first)  # closing twice (e.g. disconnect, then finally) frees one slot only once
    third = hub.open("u1", ["u1"])
    with pytest.raises(StreamLimitReached):
        hub.open("u1", ["u1"])
    assert hub.streams_of("u1") == 2 and hub.open_streams == 3
    for stream in (second, third, other):
        hub.close(stream)
    assert hub.open_streams == 0 and hub.streams_of("u1") == 0


def test_a_closed_stream_no_longer_receives(hub: Hub) -> None:
    stream = hub.open("m1", ["m1", "moderators"])
    hub.publish({"recipient_id": "moderators", "event_key": "1"})
    hub.close(stream)
    hub.publish({"recipient_id": "moderators", "event_key": "2"})
    assert stream.queue.qsize() == 1 and stream.queue.get_nowait() == {"recipient_id": "moderators", "event_key": "1"}


def test_revoking_ends_that_identitys_streams_only_and_refuses_new_ones_for_a_while(hub: Hub, clock: FakeClock) -> None:
    mine, theirs = hub.open("m1", ["m1", "moderators"]), hub.open("m2", ["m2", "moderators"])
    hub.publish({"recipient_id": "moderators", "event_key": "1"})
    hub.revoke("m1")
    assert mine.queue.get_nowait() is None, "queued items are dropped so the end marker comes first"
    assert theirs.queue.get_nowait() == {"recipient_id": "moderators", "event_key": "1"}
    assert theirs.queue.empty()
    with pytest.raises(IdentityRevoked):
        hub.open("m1", ["m1"])
    hub.close(mine)
    clock.now += REVOKED_FOR_S + 1
    hub.close(hub.open("m1", ["m1"]))  # after that, the token check (database) decides alone


def test_a_stream_that_falls_too_far_behind_is_ended(hub: Hub) -> None:
    stream = hub.open("u1", ["u1"])
    for n in range(stream.queue.maxsize + 1):
        hub.publish({"recipient_id": "u1", "event_key": f"{n:04d}"})
    assert stream.queue.get_nowait() is None


def test_the_hub_knows_whom_its_open_streams_listen_for(hub: Hub) -> None:
    # The live-push consumer skips the database for recipients no stream here listens for.
    assert not hub.listening("moderators")
    stream = hub.open("m1", ["m1", "moderators"])
    assert hub.listening("m1") and hub.listening("moderators") and not hub.listening("m2")
    hub.close(stream)
    assert not hub.listening("moderators") and not hub.listening("m1")
