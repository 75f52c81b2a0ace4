"""One typed settings object: read from HAVEN_* once, by the entry point, and failing by name."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from streams.settings import Secret, Settings

ROOT = Path(__file__).resolve().parents[2]


def test_constructing_settings_never_reads_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HAVEN_FORUM_PORT", "9999")
    assert Settings().forum_port == 8080
    assert Settings.from_env().forum_port == 9999


def test_values_arrive_typed_from_their_variables() -> None:
    settings = Settings.from_env(
        {
            "HAVEN_PARTITIONS": "12",
            "HAVEN_TRUSTED_PROXIES": "10.0.0.1, 10.0.0.2,",
            "HAVEN_BOARD_POLICIES": '{"milestones": {"concern": "publish"}}',
            "HAVEN_SSE_HEARTBEAT_S": "2.5",
            "HAVEN_KAFKA_SECURITY_PROTOCOL": "sasl_ssl",
            "HAVEN_KAFKA_SASL_USERNAME": "forum",
            "HAVEN_KAFKA_SASL_PASSWORD": "correct-horse",
            "HAVEN_LOGS": "terminal",
            "HAVEN_UNRELATED_TOOL_SETTING": "ignored",
        }
    )
    assert settings.partitions == 12
    assert settings.trusted_proxies == ("10.0.0.1", "10.0.0.2")
    assert settings.board_policies == {"milestones": {"concern": "publish"}}
    assert settings.sse_heartbeat_s == 2.5
    assert settings.kafka_security_protocol == "SASL_SSL"
    assert settings.kafka_sasl_password == Secret("correct-horse")
    assert settings.logs == "terminal"


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("HAVEN_PARTITIONS", "six"),
        ("HAVEN_FORUM_PORT", "70000"),
        ("HAVEN_CLAIM_LEASE_S", "0"),
        ("HAVEN_BOARD_POLICIES", "{not json"),
        ("HAVEN_LOG_FORMAT", "xml"),
        ("HAVEN_LOG_LEVEL", "LOUD"),
        ("HAVEN_SCREENER_PRECISION", "fp8"),
        ("HAVEN_KAFKA_SSL_CAFILE", "/nowhere/ca.crt"),
    ],
)
def test_a_bad_value_fails_at_start_naming_its_variable(variable: str, value: str) -> None:
    with pytest.raises(ValueError, match=variable):
        Settings.from_env({variable: value})


def test_an_error_about_a_secret_never_shows_the_secret() -> None:
    with pytest.raises(ValueError) as raised:
        Settings.from_env({"HAVEN_KAFKA_SASL_PASSWORD": "hunter2-secret"})
    assert "HAVEN_KAFKA_SASL_PASSWORD" in str(raised.value)
    assert "hunter2-secret" not in str(raised.value)


def test_a_changed_copy_is_validated_like_the_original() -> None:
    assert Settings().with_overrides(partitions=3).partitions == 3
    with pytest.raises(ValueError, match="HAVEN_KAFKA_SASL_USERNAME"):
        Settings().with_overrides(kafka_security_protocol="SASL_SSL")


def test_the_shown_configuration_masks_passwords_and_uri_credentials() -> None:
    settings = Settings.from_env(
        {
            "HAVEN_MONGO_URI": "mongodb://haven:s3cret@db.internal:27017/?authSource=admin",
            "HAVEN_KAFKA_SECURITY_PROTOCOL": "SASL_SSL",
            "HAVEN_KAFKA_SASL_USERNAME": "forum",
            "HAVEN_KAFKA_SASL_PASSWORD": "correct-horse",
        }
    )
    shown = settings.shown()
    assert set(shown) == set(Settings.model_fields)
    assert "s3cret" not in str(shown) and "correct-horse" not in str(shown)
    assert shown["mongo_uri"] == "mongodb://********@db.internal:27017/?authSource=admin"


def test_only_the_settings_model_reads_haven_variables_from_the_environment() -> None:
    """Every HAVEN_* variable goes through Settings, so `haven config` shows all of them."""
    readers = []
    for path in [*ROOT.joinpath("services").rglob("*.py"), *ROOT.joinpath("streams").rglob("*.py")]:
        if path.name == "settings.py" and path.parent.name == "streams":
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, (ast.Call, ast.Subscript)):
                text = ast.unparse(node)
                if ("os.environ" in text or "getenv" in text) and "'HAVEN_" in text:
                    readers.append(f"{path.relative_to(ROOT)}: {text}")
    assert readers == []
