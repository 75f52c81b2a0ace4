"""Each notify instance consumes every partition with a consumer group of its own."""

from __future__ import annotations

import socket

import pytest

from services.notify.app import default_instance_name
from streams.settings import Settings


def test_notify_instances_on_one_host_or_in_different_pods_get_consumer_groups_of_their_own(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    one, two = Settings(notify_port=8082), Settings(notify_port=8083)
    assert default_instance_name(one) != default_instance_name(two)
    monkeypatch.setattr(socket, "gethostname", lambda: "notify-7d9f-abcde")
    assert default_instance_name(one) == "notify-7d9f-abcde-8082"
    named = Settings.from_env({"HAVEN_NOTIFY_INSTANCE": "notify-a", "HAVEN_NOTIFY_PORT": "8082"})
    assert default_instance_name(named) == "notify-a"
