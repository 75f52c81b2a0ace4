"""How every Kafka client authenticates: TLS and SASL options from Settings, for aiokafka and faust.

One mapping for all clients, so no producer, consumer or admin client can be built without the
credentials (anyone who can write `identities` can mint a moderator). The returned mappings
carry the password: pass them to a client, never log them.
"""

from __future__ import annotations

import ssl
from typing import TYPE_CHECKING, Any

from aiokafka.helpers import create_ssl_context

from streams.settings import Settings

if TYPE_CHECKING:
    from faust.types.auth import CredentialsT


def ssl_context(settings: Settings) -> ssl.SSLContext | None:
    """A verifying TLS context (hostname checked) for SSL and SASL_SSL; None without TLS.

    Raises ssl.SSLError / OSError when a configured CA, certificate or key cannot be loaded.
    """
    if not settings.kafka_security_protocol.endswith("SSL"):
        return None
    # aiokafka is untyped; its create_ssl_context builds and returns an ssl.SSLContext.
    context: ssl.SSLContext = create_ssl_context(
        cafile=str(settings.kafka_ssl_cafile) if settings.kafka_ssl_cafile else None,
        certfile=str(settings.kafka_ssl_certfile) if settings.kafka_ssl_certfile else None,
        keyfile=str(settings.kafka_ssl_keyfile) if settings.kafka_ssl_keyfile else None,
    )
    return context


def aiokafka_security(settings: Settings) -> dict[str, Any]:
    """Keyword arguments for AIOKafkaProducer, AIOKafkaConsumer and AIOKafkaAdminClient."""
    options: dict[str, Any] = {"security_protocol": settings.kafka_security_protocol}
    context = ssl_context(settings)
    if context is not None:
        options["ssl_context"] = context
    if settings.kafka_security_protocol.startswith("SASL_"):
        # Settings validation guarantees both are present for a SASL protocol.
        assert settings.kafka_sasl_username is not None and settings.kafka_sasl_password is not None
        options["sasl_mechanism"] = settings.kafka_sasl_mechanism
        options["sasl_plain_username"] = settings.kafka_sasl_username
        options["sasl_plain_password"] = settings.kafka_sasl_password.reveal()
    return options


def faust_credentials(settings: Settings) -> CredentialsT | None:
    """The `broker_credentials` for faust.App: the same protocol, mechanism and TLS as aiokafka.

    Returns a faust SASLCredentials or SSLCredentials, or None for PLAINTEXT. faust is imported
    here only, so the HTTP services do not load it.
    """
    import faust

    protocol = settings.kafka_security_protocol
    context = ssl_context(settings)
    if protocol == "PLAINTEXT":
        return None
    if protocol == "SSL":
        return faust.SSLCredentials(context)
    assert settings.kafka_sasl_username is not None and settings.kafka_sasl_password is not None
    # faust derives SASL_SSL from the presence of an ssl_context, SASL_PLAINTEXT from its absence.
    return faust.SASLCredentials(
        username=settings.kafka_sasl_username,
        password=settings.kafka_sasl_password.reveal(),
        ssl_context=context,
        mechanism=settings.kafka_sasl_mechanism,
    )
