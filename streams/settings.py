"""Runtime settings shared by every service, read from HAVEN_* environment variables.

Only entry points (the CLI) call `Settings.from_env()`; everything else receives a Settings.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Literal, get_args

KafkaSecurityProtocol = Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"]
KafkaSaslMechanism = Literal["SCRAM-SHA-512", "SCRAM-SHA-256", "PLAIN"]


def _int(env: Mapping[str, str], name: str, default: int) -> int:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError as exc:
        raise ValueError(f"{name} must be an integer, got {raw!r}") from exc


@dataclass(frozen=True)
class Secret:
    """A value that must never reach a log: repr and str show a mask; `reveal()` gives the value."""

    _value: str = field(repr=False)

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "Secret('********')"

    __str__ = __repr__


def _choice(env: Mapping[str, str], name: str, default: str, allowed: tuple[str, ...]) -> str:
    raw = env.get(name, "").strip() or default
    if raw.upper() not in allowed:
        raise ValueError(f"{name} must be one of {', '.join(allowed)}, got {raw!r}")
    return raw.upper()


def _optional_path(env: Mapping[str, str], name: str) -> Path | None:
    raw = env.get(name, "").strip()
    if not raw:
        return None
    path = Path(raw)
    if not path.is_file():
        raise ValueError(f"{name} points at {raw!r}, which is not a readable file")
    return path


def _secret(env: Mapping[str, str], name: str, file_name: str) -> Secret | None:
    """`name` or `file_name` (a mounted secret file, trailing newline dropped); never both."""
    value, path = env.get(name, ""), env.get(file_name, "").strip()
    if value and path:
        raise ValueError(f"set {name} or {file_name}, not both")
    if path:
        try:
            value = Path(path).read_text(encoding="utf-8").rstrip("\r\n")
        except OSError as exc:
            # The error names the variable and the file, never the file's content.
            raise ValueError(f"{file_name} points at {path!r}, which cannot be read ({exc.strerror})") from None
        if not value:
            raise ValueError(f"{file_name} points at {path!r}, which is empty")
    return Secret(value) if value else None


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
    #: The screening worker's /healthz, /readyz and /metrics.
    worker_port: int = 8083
    #: A stable name for this process across restarts (a pod's name): makes every group consumer a
    #: static member, so a rolling restart does not rebalance the group twice per pod.
    instance_id: str | None = None
    #: A post waiting this long for its verdict alerts the moderators (`queue.stalled`).
    screening_stalled_after_s: int = 60
    #: A consumer retrying one event for longer than this makes its service not ready.
    consumer_unready_after_s: int = 30
    #: Copies of each topic and how many must acknowledge a write: 1/1 on one local broker,
    #: 3/2 on a cluster, so that acks=all survives losing a broker.
    replication_factor: int = 1
    min_insync_replicas: int = 1
    #: Open SSE streams one identity may hold on one notify instance (each holds a connection).
    max_streams_per_identity: int = 3
    #: How the clients reach Kafka. PLAINTEXT (no TLS, no login) is for the loopback-only local stack.
    kafka_security_protocol: KafkaSecurityProtocol = "PLAINTEXT"
    kafka_sasl_mechanism: KafkaSaslMechanism = "SCRAM-SHA-512"
    #: The service's Kafka principal: ACLs decide which topics and groups it may use (docs/security.md).
    kafka_sasl_username: str | None = None
    kafka_sasl_password: Secret | None = None
    #: CA bundle the broker certificates are checked against (None: the system's CAs).
    kafka_ssl_cafile: Path | None = None
    #: Client certificate and key, for brokers that authenticate clients by TLS (mutual TLS).
    kafka_ssl_certfile: Path | None = None
    kafka_ssl_keyfile: Path | None = None

    def __post_init__(self) -> None:
        _check_kafka_security(self)

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
            worker_port=_int(env, "HAVEN_WORKER_PORT", defaults.worker_port),
            instance_id=env.get("HAVEN_INSTANCE_ID") or None,
            screening_stalled_after_s=_int(env, "HAVEN_SCREENING_STALLED_AFTER_S", defaults.screening_stalled_after_s),
            consumer_unready_after_s=_int(env, "HAVEN_CONSUMER_UNREADY_AFTER_S", defaults.consumer_unready_after_s),
            replication_factor=_int(env, "HAVEN_REPLICATION_FACTOR", defaults.replication_factor),
            min_insync_replicas=_int(env, "HAVEN_MIN_INSYNC_REPLICAS", defaults.min_insync_replicas),
            max_streams_per_identity=_int(env, "HAVEN_MAX_STREAMS_PER_IDENTITY", defaults.max_streams_per_identity),
            kafka_security_protocol=_choice(  # type: ignore[arg-type]
                env, "HAVEN_KAFKA_SECURITY_PROTOCOL", defaults.kafka_security_protocol, get_args(KafkaSecurityProtocol)
            ),
            kafka_sasl_mechanism=_choice(  # type: ignore[arg-type]
                env, "HAVEN_KAFKA_SASL_MECHANISM", defaults.kafka_sasl_mechanism, get_args(KafkaSaslMechanism)
            ),
            kafka_sasl_username=env.get("HAVEN_KAFKA_SASL_USERNAME", "").strip() or None,
            kafka_sasl_password=_secret(env, "HAVEN_KAFKA_SASL_PASSWORD", "HAVEN_KAFKA_SASL_PASSWORD_FILE"),
            kafka_ssl_cafile=_optional_path(env, "HAVEN_KAFKA_SSL_CAFILE"),
            kafka_ssl_certfile=_optional_path(env, "HAVEN_KAFKA_SSL_CERTFILE"),
            kafka_ssl_keyfile=_optional_path(env, "HAVEN_KAFKA_SSL_KEYFILE"),
        )

    def service_ports(self) -> dict[str, int]:
        """Where each process of `haven serve` answers HTTP (the worker: health and metrics only)."""
        return {
            "forum": self.forum_port, "moderation-api": self.moderation_port,
            "notify": self.notify_port, "moderation-worker": self.worker_port,
        }

    def database_name(self, service: str) -> str:
        return f"{self.db_prefix}{service}"

    def with_overrides(self, **changes: object) -> Settings:
        return replace(self, **changes)  # type: ignore[arg-type]


def _check_kafka_security(settings: Settings) -> None:
    """Refuse combinations that would silently connect with less protection than asked for."""
    protocol = settings.kafka_security_protocol
    if protocol not in get_args(KafkaSecurityProtocol):
        raise ValueError(f"HAVEN_KAFKA_SECURITY_PROTOCOL must be one of {get_args(KafkaSecurityProtocol)}, got {protocol!r}")
    if settings.kafka_sasl_mechanism not in get_args(KafkaSaslMechanism):
        raise ValueError(
            f"HAVEN_KAFKA_SASL_MECHANISM must be one of {get_args(KafkaSaslMechanism)}, "
            f"got {settings.kafka_sasl_mechanism!r}"
        )
    sasl, tls = protocol.startswith("SASL_"), protocol.endswith("SSL")
    if sasl:
        if not settings.kafka_sasl_username:
            raise ValueError(f"HAVEN_KAFKA_SASL_USERNAME is required with HAVEN_KAFKA_SECURITY_PROTOCOL={protocol}")
        if settings.kafka_sasl_password is None or not settings.kafka_sasl_password.reveal():
            raise ValueError(
                "HAVEN_KAFKA_SASL_PASSWORD or HAVEN_KAFKA_SASL_PASSWORD_FILE is required "
                f"with HAVEN_KAFKA_SECURITY_PROTOCOL={protocol}"
            )
        if protocol == "SASL_PLAINTEXT" and settings.kafka_sasl_mechanism == "PLAIN":
            raise ValueError(
                "HAVEN_KAFKA_SASL_MECHANISM=PLAIN over SASL_PLAINTEXT sends the password in clear text: "
                "use SASL_SSL or a SCRAM mechanism"
            )
    else:
        for name, value in (
            ("HAVEN_KAFKA_SASL_USERNAME", settings.kafka_sasl_username),
            ("HAVEN_KAFKA_SASL_PASSWORD", settings.kafka_sasl_password),
        ):
            if value is not None:
                raise ValueError(f"{name} is set but HAVEN_KAFKA_SECURITY_PROTOCOL={protocol} does not use SASL")
    if not tls:
        for name, path in (
            ("HAVEN_KAFKA_SSL_CAFILE", settings.kafka_ssl_cafile),
            ("HAVEN_KAFKA_SSL_CERTFILE", settings.kafka_ssl_certfile),
            ("HAVEN_KAFKA_SSL_KEYFILE", settings.kafka_ssl_keyfile),
        ):
            if path is not None:
                raise ValueError(f"{name} is set but HAVEN_KAFKA_SECURITY_PROTOCOL={protocol} does not use TLS")
    if settings.kafka_ssl_keyfile is not None and settings.kafka_ssl_certfile is None:
        raise ValueError("HAVEN_KAFKA_SSL_KEYFILE is set without HAVEN_KAFKA_SSL_CERTFILE")
