"""Runtime settings shared by every service, read from HAVEN_* environment variables.

Only entry points (the CLI) call `Settings.from_env()`; everything else receives a Settings.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path


def _int(env: Mapping[str, str], name: str, default: int) -> int:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError as exc:
        raise ValueError(f"{name} must be an integer, got {raw!r}") from exc


@dataclass(frozen=True)
class Settings:
    kafka_bootstrap: str = "127.0.0.1:9092"
    mongo_uri: str = "mongodb://127.0.0.1:27017/"
    #: Prefix of every topic name; tests use a fresh one per run so runs never interfere.
    topic_prefix: str = "haven."
    #: Prefix of every database name (haven_forum, haven_moderation, haven_notify by default).
    db_prefix: str = "haven_"
    partitions: int = 6
    #: Retention of topics that carry post bodies: an erased post must not live on in Kafka.
    body_retention_days: int = 7
    dead_letter_retention_days: int = 2
    host: str = "127.0.0.1"
    forum_port: int = 8080
    moderation_port: int = 8081
    notify_port: int = 8082
    state_dir: Path = field(default_factory=lambda: Path(".haven"))
    cache_dir: Path = field(default_factory=lambda: Path.home() / ".cache" / "haven")
    #: Proxies whose X-Forwarded-For is believed (comma-separated addresses). Empty: none.
    trusted_proxies: tuple[str, ...] = ()
    #: How long a moderator's claim on a queue item lasts before someone else may take it.
    claim_lease_s: int = 600
    #: An urgent item nobody has claimed for this long alerts every moderator again (and again).
    urgent_realert_after_s: int = 300
    #: How long a moderator console session lasts after sign-in.
    console_session_hours: int = 12

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if env is None else env
        defaults = cls()
        proxies = tuple(p.strip() for p in env.get("HAVEN_TRUSTED_PROXIES", "").split(",") if p.strip())
        return cls(
            kafka_bootstrap=env.get("HAVEN_KAFKA_BOOTSTRAP", defaults.kafka_bootstrap),
            mongo_uri=env.get("HAVEN_MONGO_URI", defaults.mongo_uri),
            topic_prefix=env.get("HAVEN_TOPIC_PREFIX", defaults.topic_prefix),
            db_prefix=env.get("HAVEN_DB_PREFIX", defaults.db_prefix),
            partitions=_int(env, "HAVEN_PARTITIONS", defaults.partitions),
            body_retention_days=_int(env, "HAVEN_BODY_RETENTION_DAYS", defaults.body_retention_days),
            dead_letter_retention_days=_int(
                env, "HAVEN_DEAD_LETTER_RETENTION_DAYS", defaults.dead_letter_retention_days
            ),
            host=env.get("HAVEN_HOST", defaults.host),
            forum_port=_int(env, "HAVEN_FORUM_PORT", defaults.forum_port),
            moderation_port=_int(env, "HAVEN_MODERATION_PORT", defaults.moderation_port),
            notify_port=_int(env, "HAVEN_NOTIFY_PORT", defaults.notify_port),
            state_dir=Path(env.get("HAVEN_STATE_DIR", str(defaults.state_dir))),
            cache_dir=Path(env.get("HAVEN_CACHE_DIR", str(defaults.cache_dir))),
            trusted_proxies=proxies,
            claim_lease_s=_int(env, "HAVEN_CLAIM_LEASE_S", defaults.claim_lease_s),
            urgent_realert_after_s=_int(env, "HAVEN_URGENT_REALERT_AFTER_S", defaults.urgent_realert_after_s),
            console_session_hours=_int(env, "HAVEN_CONSOLE_SESSION_HOURS", defaults.console_session_hours),
        )

    def database_name(self, service: str) -> str:
        return f"{self.db_prefix}{service}"

    def with_overrides(self, **changes: object) -> Settings:
        return replace(self, **changes)  # type: ignore[arg-type]
