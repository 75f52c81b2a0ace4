"""A service's Kafka readiness check keeps one connection to the broker for every check, and
finds a broker that went away and came back."""

from __future__ import annotations

from pathlib import Path

import pytest

from streams.kafka_probe import KafkaProbe
from tests.harness import StackUnderTest, eventually
from tools.localstack.components import StackPaths
from tools.localstack.stack import start_kafka, stop
from tools.process_group import free_port_pair

pytestmark = pytest.mark.integration

_TIME_WAIT = "06"


def _connections_closed_to(port: int) -> int:
    """Sockets of this machine to `port` closed from this side and not yet gone (TIME_WAIT): each
    connection a client opens and closes leaves one for a minute."""
    count = 0
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with open(table) as lines:
            next(lines)
            for line in lines:
                fields = line.split()
                remote_port = int(fields[2].rsplit(":", 1)[1], 16)
                count += remote_port == port and fields[3] == _TIME_WAIT
    return count


async def test_one_connection_serves_every_check_and_a_restarted_broker_is_found_again(
    stack: StackUnderTest, tmp_path: Path
) -> None:
    port = free_port_pair()
    own = stack.settings.with_overrides(kafka_bootstrap=f"127.0.0.1:{port}", state_dir=tmp_path / "state")
    await start_kafka(own, StackPaths.from_settings(own))
    probe = KafkaProbe(own)
    try:
        assert await probe.ready()
        closed_before = _connections_closed_to(port)

        assert [await probe.ready() for _ in range(10)] == [True] * 10

        assert probe.clients_started == 1
        assert _connections_closed_to(port) == closed_before, "no connection opened and closed per check"

        stop(own)
        assert not await probe.ready()
        await start_kafka(own, StackPaths.from_settings(own))
        assert await eventually(lambda: _true_or_none(probe), timeout=60)
        clients = probe.clients_started
        assert [await probe.ready() for _ in range(5)] == [True] * 5
        assert probe.clients_started == clients
    finally:
        await probe.close()
        stop(own)


async def _true_or_none(probe: KafkaProbe) -> bool | None:
    return True if await probe.ready() else None
