"""Settings from the environment: parsing, validation, secrets never printed."""

from __future__ import annotations

import pytest

from citypulse import ConfigError, MqttUrl, Secret, Settings, mask_url


def test_defaults_without_environment() -> None:
    s = Settings.from_env({})
    assert s.schema_mode == "auto"
    assert s.retention_days is None  # keep what the database has
    assert s.mqtt.host == "localhost"
    assert s.mqtt.port == 1883
    assert not s.mqtt.tls
    assert s.reader_url == s.database_url
    assert s.locale is None  # the routing file's locale decides


def test_locale_from_the_environment_and_a_flag_over_it() -> None:
    assert Settings.from_env({"CITYPULSE_LOCALE": " EN "}).locale == "en"
    assert Settings.from_env({"CITYPULSE_LOCALE": ""}).locale is None
    env = Settings.from_env({"CITYPULSE_LOCALE": "en"})
    assert env.with_overrides(locale="ru").locale == "ru"  # a command's --locale wins
    assert env.with_overrides(locale=None).locale == "en"


def test_environment_is_parsed() -> None:
    s = Settings.from_env(
        {
            "CITYPULSE_DATABASE_URL": "postgresql://ingest:pa55@db:5432/city",
            "CITYPULSE_READ_DATABASE_URL": "postgresql://reader:r3ad@replica/city",
            "CITYPULSE_MQTT_URL": "mqtts://dev%40ice:s3cret@broker.example",
            "CITYPULSE_SCHEMA_MODE": "plain",
            "CITYPULSE_RETENTION_DAYS": "30",
            "CITYPULSE_API_KEYS": "k1, k2",
            "CITYPULSE_UNKNOWN_DEVICES": "reject",
        }
    )
    assert s.mqtt == MqttUrl("broker.example", 8883, True, "dev@ice", Secret("s3cret"))
    assert s.reader_url.startswith("postgresql://reader")
    assert s.schema_mode == "plain"
    assert s.retention_days == 30
    assert s.unknown_devices == "reject"
    assert [k.value for k in s.api_keys] == ["k1", "k2"]


def test_secrets_are_masked_in_repr_and_str() -> None:
    s = Settings.from_env(
        {
            "CITYPULSE_DATABASE_URL": "postgresql://ingest:pa55word@db/city",
            "CITYPULSE_MQTT_URL": "mqtt://user:mqttpa55@broker:1883",
            "CITYPULSE_API_KEYS": "topsecretkey",
            "CITYPULSE_WEBHOOK_SECRET": "hooksecret",
        }
    )
    text = repr(s) + str(s) + repr(s.mqtt) + s.mqtt.url() + repr(s.api_keys) + str(s.webhook_secret)
    for secret in ("pa55word", "mqttpa55", "topsecretkey", "hooksecret"):
        assert secret not in text
    assert "***" in text
    assert mask_url("postgresql://u:p@h/db") == "postgresql://u:***@h/db"
    assert mask_url("postgresql://h/db") == "postgresql://h/db"


@pytest.mark.parametrize(
    ("env", "setting"),
    [
        ({"CITYPULSE_MQTT_URL": "http://broker"}, "CITYPULSE_MQTT_URL"),
        ({"CITYPULSE_MQTT_URL": "mqtt://"}, "CITYPULSE_MQTT_URL"),
        ({"CITYPULSE_SCHEMA_MODE": "mongo"}, "CITYPULSE_SCHEMA_MODE"),
        ({"CITYPULSE_RETENTION_DAYS": "a year"}, "CITYPULSE_RETENTION_DAYS"),
        ({"CITYPULSE_RETENTION_DAYS": "0"}, "CITYPULSE_RETENTION_DAYS"),
        ({"CITYPULSE_UNKNOWN_DEVICES": "maybe"}, "CITYPULSE_UNKNOWN_DEVICES"),
        ({"CITYPULSE_LOCALE": "fr"}, "CITYPULSE_LOCALE"),
        ({"CITYPULSE_SESSION_SECRET": "too-short"}, "CITYPULSE_SESSION_SECRET"),
    ],
)
def test_bad_settings_name_the_variable(env: dict[str, str], setting: str) -> None:
    with pytest.raises(ConfigError) as info:
        Settings.from_env(env)
    assert info.value.setting == setting
    assert setting in str(info.value)


def test_session_secret_is_optional_and_masked() -> None:
    assert not Settings.from_env({}).session_secret
    secret = "x" * 40
    settings = Settings.from_env({"CITYPULSE_SESSION_SECRET": secret})
    assert settings.session_secret.value == secret
    assert secret not in repr(settings)
    assert secret not in str(settings.session_secret)
