"""The kernel's option types: right text becomes the value, wrong text one clear message
(every option of every command meets them in test_cli_input.py)."""

from __future__ import annotations

from argparse import ArgumentTypeError
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta

import pytest

from citypulse import (
    FloatRange,
    IntRange,
    MqttUrl,
    http_url,
    iso_time,
    iso_week,
    parse_duration,
    positive_duration,
    positive_float,
    positive_int,
    slug,
    tcp_port,
)
from citypulse._args import database_url, log_level, mqtt_url


def test_right_text_becomes_the_value() -> None:
    assert positive_int("3") == 3
    assert positive_float("0.5") == 0.5
    assert tcp_port("0") == 0
    assert FloatRange(-90, 90)("-90") == -90.0
    assert iso_time("2026-03-01T00:00Z") == datetime(2026, 3, 1, tzinfo=UTC)
    assert iso_week("2026-W48") == date(2026, 11, 23)
    assert iso_week("2020-W53") == date(2020, 12, 28)
    assert positive_duration("1d2h30m") == timedelta(days=1, hours=2, minutes=30)
    assert positive_duration("90") == timedelta(seconds=90)
    assert slug("leninsky") == "leninsky"
    assert log_level("debug") == "DEBUG"
    assert mqtt_url("mqtts://u:p@broker:8883") == MqttUrl.parse("mqtts://u:p@broker:8883")
    assert database_url("postgresql:///citypulse") == "postgresql:///citypulse"
    assert http_url("https://grafana.example/") == "https://grafana.example/"


@pytest.mark.parametrize(
    ("parse", "text", "message"),
    [
        (positive_int, "0", "must be at least 1, got 0"),
        (IntRange(1, 16), "17", "must be 1..16, got 17"),
        (IntRange(high=5), "6", "must be at most 5, got 6"),
        (positive_float, "0", "must be positive, got 0"),
        (positive_float, "nan", "expected a finite number, got 'nan'"),
        (FloatRange(1), "0.5", "must be at least 1, got 0.5"),
        (iso_time, "2026-03-01T00:00", "needs a UTC offset"),
        (iso_week, "2026-48", "expected an ISO week like 2026-W48"),
        (iso_week, "2026-W54", "2026 has no week 54"),
        (iso_week, "2027-W53", "2027 has no week 53"),
        (positive_duration, "inf", "not a duration: 'inf'"),
        (positive_duration, "1e300", "not a duration: '1e300'"),
        (positive_duration, "0s", "must be positive"),
        (
            database_url,
            "postgresql://u:secret@h:99999/x",
            "not a URL: postgresql://u:***@h:99999/x",
        ),
        (database_url, "host=h dbname=x", "not a postgresql:// URL"),
        (mqtt_url, "http://h", "scheme must be mqtt:// or mqtts://"),
        (http_url, "grafana:3000", "not an http:// or https:// URL"),
        (log_level, "loud", "must be DEBUG, INFO, WARNING, ERROR or CRITICAL, got 'loud'"),
    ],
)
def test_wrong_text_says_why(parse: Callable[[str], object], text: str, message: str) -> None:
    with pytest.raises(ArgumentTypeError) as info:
        parse(text)
    assert message in str(info.value)
    assert "secret" not in str(info.value)


def test_parse_duration_refuses_what_timedelta_cannot_hold() -> None:
    for text in ("nan", "inf", "1e300", "soon"):
        with pytest.raises(ValueError, match="not a duration"):
            parse_duration(text)
