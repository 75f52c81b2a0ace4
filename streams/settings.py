"""Runtime settings shared by every service: one typed object, read from HAVEN_* variables.

Only entry points (the CLI) call `Settings.from_env()`, once, at start; everything else receives
the Settings it needs. Constructing `Settings(...)` directly never reads the environment, so a test
or a tool gets exactly the values it names. A bad value fails with the variable's name.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, EnvSettingsSource, NoDecode, PydanticBaseSettingsSource, SettingsConfigDict
from pydantic_settings.exceptions import SettingsError

ENV_PREFIX = "HAVEN_"

KafkaSecurityProtocol = Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"]
KafkaSaslMechanism = Literal["SCRAM-SHA-512", "SCRAM-SHA-256", "PLAIN"]
ScreenerPrecision = Literal["auto", "fp32", "bf16", "int8"]

Port = Annotated[int, Field(ge=1, le=65535)]
Positive = Annotated[int, Field(ge=1)]


class Secret(SecretStr):
    """A value that must never reach a log: repr and str show a mask; `reveal()` gives the value."""

    def reveal(self) -> str:
        return self.get_secret_value()

    def __repr__(self) -> str:
        return "Secret('********')"

    def __str__(self) -> str:
        return "********"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX, frozen=True, extra="forbid", env_ignore_empty=True, hide_input_in_errors=True
    )

    # Where the parts are
    kafka_bootstrap: str = "127.0.0.1:9092"
    mongo_uri: str = Field("mongodb://127.0.0.1:27017/", json_schema_extra={"secret": True})
    #: Prefix of every topic name; tests use a fresh one per run so runs never interfere.
    topic_prefix: str = "haven."
    #: Prefix of every database name (haven_forum, haven_moderation, haven_notify by default).
    db_prefix: str = "haven_"
    partitions: Positive = 6
    #: Retention of topics that carry post bodies: an erased post must not live on in Kafka.
    body_retention_days: Positive = 7
    dead_letter_retention_days: Positive = 2
    #: Copies of each topic and how many must acknowledge a write: 1/1 on one local broker,
    #: 3/2 on a cluster, so that acks=all survives losing a broker.
    replication_factor: Positive = 1
    min_insync_replicas: Positive = 1

    # Where the services answer
    host: str = "127.0.0.1"
    forum_port: Port = 8080
    moderation_port: Port = 8081
    notify_port: Port = 8082
    #: The screening worker's /healthz, /readyz and /metrics.
    worker_port: Port = 8083
    #: Seconds a request's body may take to arrive once its headers have: past it, a 408 and the
    #: connection closes (a body trickled a byte at a time would otherwise hold it for ever).
    request_body_timeout_s: float = Field(30.0, gt=0)
    #: Connections one client (an IPv4 address, or an IPv6 /64) may hold open to a service; past
    #: it a new one gets a 503 at once. Trusted proxies count towards max_connections only.
    max_connections_per_address: Positive = 512
    #: Connections a service holds open in all; lowered at start to what the process may open, less
    #: 256 kept for its databases and Kafka.
    max_connections: Positive = 10_000
    state_dir: Path = Path(".haven")
    cache_dir: Path = Field(default_factory=lambda: Path.home() / ".cache" / "haven")
    #: Proxies whose X-Forwarded-For is believed (comma-separated addresses). Empty: none.
    trusted_proxies: Annotated[tuple[str, ...], NoDecode] = ()
    #: A stable name for this process across restarts (a pod's name): makes every group consumer a
    #: static member, so a rolling restart does not rebalance the group twice per pod.
    instance_id: str | None = None

    # Forum
    posts_per_minute: Positive = 10
    posts_per_hour: Positive = 60
    #: New anonymous identities per client address per hour (counted in memory, never stored).
    identities_per_hour: Positive = 30

    # Moderation
    #: How long a moderator's claim on a queue item lasts before someone else may take it.
    claim_lease_s: Positive = 600
    #: An urgent item nobody has claimed for this long alerts every moderator again (and again).
    urgent_realert_after_s: Positive = 300
    #: How long a moderator console session lasts after sign-in.
    console_session_hours: Positive = 12
    #: A post waiting this long for its verdict alerts the moderators (`queue.stalled`).
    screening_stalled_after_s: Positive = 60
    #: A batch's inference gets this many seconds, plus one per 1,000 characters, before its posts
    #: are held for a human and the worker reports the inference stalled (/healthz).
    screening_deadline_s: Positive = 30
    #: Per-board changes to the risk -> action policy, as JSON: {"board": {"concern": "hold"}}.
    board_policies: dict[str, dict[str, str]] = Field(default_factory=dict)
    #: The live screening model folder (None: the one that ships with Haven).
    screener_model: Path | None = None
    #: A candidate model folder for `haven screener shadow`.
    shadow_screener: Path | None = None
    #: auto picks bf16 where the CPU has AMX, else fp32.
    screener_precision: ScreenerPrecision = "auto"

    # Notify
    #: Open SSE streams one identity may hold on one notify instance (each holds a connection).
    max_streams_per_identity: Positive = 3
    #: Seconds between SSE keep-alive comments, so proxies keep idle streams open.
    sse_heartbeat_s: float = Field(15.0, gt=0)
    #: This notify instance's consumer group suffix (default: host name and port).
    notify_instance: str | None = None

    # Consumers
    #: A consumer retrying one event for longer than this makes its service not ready.
    consumer_unready_after_s: Positive = 30

    # Logs
    log_level: str = "INFO"
    log_format: Literal["text", "json"] = "text"
    library_log_level: str = "WARNING"
    #: `haven serve all`: each service's log in <state_dir>/logs/ ("files") or on this terminal.
    logs: Literal["files", "terminal"] = "files"

    # Kafka security
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

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # The environment is read by from_env() only, from the mapping it is given.
        return (init_settings,)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        environ = os.environ if env is None else env
        try:
            values = _MappingSource(cls, environ)()
            password = _password_from_file(environ)
            if password is not None:
                values["kafka_sasl_password"] = password
            return cls(**values)
        except SettingsError as exc:
            # pydantic-settings names the field; say which variable and why, never its value.
            field = str(exc).split('"')[1] if '"' in str(exc) else ""
            raise ValueError(f"{env_name(field) if field else 'a HAVEN_ variable'} is not valid JSON") from None
        except ValidationError as exc:
            raise ValueError(_explain(exc)) from None

    @classmethod
    def variables(cls) -> set[str]:
        """Every environment variable from_env() reads."""
        return {env_name(name) for name in cls.model_fields} | {PASSWORD_FILE}

    @field_validator("trusted_proxies", mode="before")
    @classmethod
    def _comma_separated(cls, value: Any) -> Any:
        if isinstance(value, str):
            return tuple(part.strip() for part in value.split(",") if part.strip())
        return value

    @field_validator("kafka_security_protocol", "kafka_sasl_mechanism", mode="before")
    @classmethod
    def _upper_case(cls, value: Any) -> Any:
        return value.strip().upper() if isinstance(value, str) else value

    @field_validator("log_level", "library_log_level")
    @classmethod
    def _log_level(cls, value: str) -> str:
        level = value.strip().upper()
        if level not in ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"):
            raise ValueError("must be DEBUG, INFO, WARNING, ERROR or CRITICAL")
        return level

    @field_validator("kafka_ssl_cafile", "kafka_ssl_certfile", "kafka_ssl_keyfile")
    @classmethod
    def _readable_file(cls, value: Path | None) -> Path | None:
        if value is not None and not value.is_file():
            raise ValueError(f"points at {str(value)!r}, which is not a readable file")
        return value

    @field_validator("screener_model", "shadow_screener")
    @classmethod
    def _home(cls, value: Path | None) -> Path | None:
        return value.expanduser() if value is not None else None

    @model_validator(mode="after")
    def _kafka_security(self) -> Settings:
        _check_kafka_security(self)
        return self

    def service_ports(self) -> dict[str, int]:
        """Where each process of `haven serve` answers HTTP (the worker: health and metrics only)."""
        return {
            "forum": self.forum_port,
            "moderation-api": self.moderation_port,
            "notify": self.notify_port,
            "moderation-worker": self.worker_port,
        }

    def database_name(self, service: str) -> str:
        return f"{self.db_prefix}{service}"

    def with_overrides(self, **changes: object) -> Settings:
        """A copy with `changes`, validated like the original."""
        return type(self)(**{**dict(self), **changes})

    def shown(self) -> dict[str, object]:
        """Every setting as an operator may see it: secrets masked, credentials out of URIs."""
        values: dict[str, object] = {}
        for name, field in type(self).model_fields.items():
            value = getattr(self, name)
            extra = field.json_schema_extra if isinstance(field.json_schema_extra, dict) else {}
            if extra.get("secret") and isinstance(value, str):
                value = _without_credentials(value)
            values[name] = _plain(value)
        return values


PASSWORD_FILE = "HAVEN_KAFKA_SASL_PASSWORD_FILE"


def _password_from_file(environ: Mapping[str, str]) -> str | None:
    """The password from a mounted secret file (trailing newline dropped); never with the password."""
    path = environ.get(PASSWORD_FILE, "").strip()
    if not path:
        return None
    if environ.get("HAVEN_KAFKA_SASL_PASSWORD"):
        raise ValueError(f"set HAVEN_KAFKA_SASL_PASSWORD or {PASSWORD_FILE}, not both")
    try:
        value = Path(path).read_text(encoding="utf-8").rstrip("\r\n")
    except OSError as exc:
        # The error names the variable and the file, never the file's content.
        raise ValueError(f"{PASSWORD_FILE} points at {path!r}, which cannot be read ({exc.strerror})") from None
    if not value:
        raise ValueError(f"{PASSWORD_FILE} points at {path!r}, which is empty")
    return value


def env_name(field: str) -> str:
    return f"{ENV_PREFIX}{field.upper()}"


class _MappingSource(EnvSettingsSource):
    """pydantic-settings' environment source, reading a given mapping instead of os.environ."""

    def __init__(self, settings_cls: type[BaseSettings], environ: Mapping[str, str]) -> None:
        self._environ = environ
        super().__init__(settings_cls)

    def _load_env_vars(self) -> Mapping[str, str | None]:
        ignore_empty = bool(self.env_ignore_empty)
        return {
            key.lower(): value
            for key, value in self._environ.items()
            if key.upper().startswith(ENV_PREFIX) and not (ignore_empty and value == "")
        }


def _explain(exc: ValidationError) -> str:
    problems = []
    for error in exc.errors(include_input=False):
        field = str(error["loc"][0]) if error["loc"] else ""
        message = error["msg"].removeprefix("Value error, ")
        problems.append(f"{env_name(field)}: {message}" if field else message)
    return "; ".join(problems)


def _without_credentials(uri: str) -> str:
    scheme, sep, rest = uri.partition("://")
    if not sep or "@" not in rest.split("/", 1)[0]:
        return uri
    return f"{scheme}://********@{rest.split('@', 1)[1]}"


def _plain(value: object) -> object:
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, tuple):
        return [str(v) for v in value]
    if isinstance(value, dict):
        return value
    return str(value)  # Path; Secret prints as a mask


def _check_kafka_security(settings: Settings) -> None:
    """Refuse combinations that would silently connect with less protection than asked for."""
    protocol = settings.kafka_security_protocol
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
