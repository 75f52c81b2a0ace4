"""Kafka security settings: what each HAVEN_KAFKA_* combination means for every client, and what is refused."""

from __future__ import annotations

import ssl
from pathlib import Path

import pytest
from faust.transport.drivers.aiokafka import credentials_to_aiokafka_auth

from streams.kafka_security import aiokafka_security, faust_credentials
from streams.settings import Secret, Settings

PASSWORD = "correct horse battery staple"
SASL_ENV = {
    "HAVEN_KAFKA_SECURITY_PROTOCOL": "SASL_PLAINTEXT",
    "HAVEN_KAFKA_SASL_USERNAME": "haven-forum",
    "HAVEN_KAFKA_SASL_PASSWORD": PASSWORD,
}


#: A self-signed CA certificate made for these tests (its key was discarded): a TLS context only
#: needs to load it, so the tests never depend on the machine's CA bundle.
CA_FILE = Path(__file__).resolve().parents[1] / "data" / "kafka-test-ca.pem"


@pytest.fixture(scope="module")
def ca_file() -> Path:
    assert CA_FILE.is_file(), f"{CA_FILE} is part of the repository"
    return CA_FILE


def test_the_default_is_plaintext_without_credentials() -> None:
    settings = Settings.from_env({})
    assert aiokafka_security(settings) == {"security_protocol": "PLAINTEXT"}
    assert faust_credentials(settings) is None


def test_sasl_plaintext_scram_gives_every_aiokafka_client_the_principal_and_password() -> None:
    settings = Settings.from_env(SASL_ENV)
    assert aiokafka_security(settings) == {
        "security_protocol": "SASL_PLAINTEXT",
        "sasl_mechanism": "SCRAM-SHA-512",
        "sasl_plain_username": "haven-forum",
        "sasl_plain_password": PASSWORD,
    }


def test_faust_gets_the_same_options_as_aiokafka(ca_file: Path) -> None:
    for env in (
        SASL_ENV,
        SASL_ENV | {"HAVEN_KAFKA_SECURITY_PROTOCOL": "SASL_SSL", "HAVEN_KAFKA_SASL_MECHANISM": "scram-sha-256"},
        {"HAVEN_KAFKA_SECURITY_PROTOCOL": "SSL", "HAVEN_KAFKA_SSL_CAFILE": str(ca_file)},
    ):
        settings = Settings.from_env(env)
        ours = aiokafka_security(settings)
        # faust's own translation of the credentials, as its consumer and producer use it.
        theirs = {k: v for k, v in credentials_to_aiokafka_auth(faust_credentials(settings)).items() if v is not None}
        assert set(theirs) == set(ours)
        for key in ours:
            if key == "ssl_context":
                assert isinstance(theirs[key], ssl.SSLContext)
            else:
                assert theirs[key] == ours[key], key


def test_sasl_ssl_verifies_the_broker_certificate_and_host_name(ca_file: Path) -> None:
    settings = Settings.from_env(
        SASL_ENV | {"HAVEN_KAFKA_SECURITY_PROTOCOL": "SASL_SSL", "HAVEN_KAFKA_SSL_CAFILE": str(ca_file)}
    )
    options = aiokafka_security(settings)
    assert options["security_protocol"] == "SASL_SSL"
    context = options["ssl_context"]
    assert context.verify_mode == ssl.CERT_REQUIRED and context.check_hostname is True
    assert context.cert_store_stats()["x509_ca"] > 0, "the configured CA file was loaded"


def test_the_password_can_come_from_a_mounted_secret_file(tmp_path: Path) -> None:
    secret = tmp_path / "password"
    secret.write_text(PASSWORD + "\n")  # files written by `echo` or editors end with a newline
    env = {k: v for k, v in SASL_ENV.items() if k != "HAVEN_KAFKA_SASL_PASSWORD"}
    settings = Settings.from_env(env | {"HAVEN_KAFKA_SASL_PASSWORD_FILE": str(secret)})
    assert aiokafka_security(settings)["sasl_plain_password"] == PASSWORD


def test_the_password_never_shows_in_the_settings_repr_or_str() -> None:
    settings = Settings.from_env(SASL_ENV)
    for text in (repr(settings), str(settings), repr(settings.kafka_sasl_password), f"{settings.kafka_sasl_password}"):
        assert PASSWORD not in text
    assert "haven-forum" in repr(settings), "the principal is not secret and helps debugging"
    assert settings.kafka_sasl_password == Secret(PASSWORD)


@pytest.mark.parametrize(
    ("env", "named"),
    [
        ({"HAVEN_KAFKA_SECURITY_PROTOCOL": "TLS"}, "HAVEN_KAFKA_SECURITY_PROTOCOL"),
        (SASL_ENV | {"HAVEN_KAFKA_SASL_MECHANISM": "GSSAPI"}, "HAVEN_KAFKA_SASL_MECHANISM"),
        ({k: v for k, v in SASL_ENV.items() if k != "HAVEN_KAFKA_SASL_USERNAME"}, "HAVEN_KAFKA_SASL_USERNAME"),
        ({k: v for k, v in SASL_ENV.items() if k != "HAVEN_KAFKA_SASL_PASSWORD"}, "HAVEN_KAFKA_SASL_PASSWORD"),
        (SASL_ENV | {"HAVEN_KAFKA_SASL_PASSWORD_FILE": "/nonexistent"}, "HAVEN_KAFKA_SASL_PASSWORD_FILE"),
        (SASL_ENV | {"HAVEN_KAFKA_SASL_MECHANISM": "PLAIN"}, "HAVEN_KAFKA_SASL_MECHANISM"),
        ({"HAVEN_KAFKA_SASL_USERNAME": "haven-forum"}, "HAVEN_KAFKA_SASL_USERNAME"),
        ({"HAVEN_KAFKA_SSL_CAFILE": "/etc/hostname"}, "HAVEN_KAFKA_SSL_CAFILE"),
        (
            {"HAVEN_KAFKA_SECURITY_PROTOCOL": "SSL", "HAVEN_KAFKA_SSL_CAFILE": "/nonexistent/ca.pem"},
            "HAVEN_KAFKA_SSL_CAFILE",
        ),
    ],
    ids=[
        "unknown-protocol",
        "unsupported-mechanism",
        "sasl-without-username",
        "sasl-without-password",
        "unreadable-password-file",
        "plain-password-in-clear",
        "username-without-sasl",
        "ca-without-tls",
        "missing-ca-file",
    ],
)
def test_a_misconfiguration_is_refused_naming_the_variable(env: dict[str, str], named: str) -> None:
    with pytest.raises(ValueError, match=named) as refused:
        Settings.from_env(env)
    assert PASSWORD not in str(refused.value)


def test_the_password_file_and_the_variable_together_are_refused(tmp_path: Path) -> None:
    secret = tmp_path / "password"
    secret.write_text("another one")
    with pytest.raises(ValueError, match="HAVEN_KAFKA_SASL_PASSWORD_FILE") as refused:
        Settings.from_env(SASL_ENV | {"HAVEN_KAFKA_SASL_PASSWORD_FILE": str(secret)})
    assert PASSWORD not in str(refused.value) and "another one" not in str(refused.value)


def test_overrides_are_validated_too() -> None:
    with pytest.raises(ValueError, match="HAVEN_KAFKA_SASL_USERNAME"):
        Settings().with_overrides(kafka_security_protocol="SASL_SSL")
