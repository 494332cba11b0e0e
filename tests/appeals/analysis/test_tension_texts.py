"""Tension points in words: the numbers they are made of, correct Russian plural forms,
and the rules every appeal text keeps (no internal names, no scores, Russian texts in
Russian, English ones without Cyrillic beyond the region's own names)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import pytest

from appeals import Routing, load_routing, plural_ru
from appeals.analysis import TensionKind, TensionPoint, explain
from tests.appeals.test_text_rules import CYRILLIC, text_violations

NB = "\u00a0"
T0 = datetime(2026, 11, 25, 5, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def routing() -> Routing:
    return load_routing()


def point(
    kind: TensionKind,
    facts: Mapping[str, Any],
    *,
    sector: str = "Дороги",
    district: str = "Ленинский округ",
    service_code: str = "",
    device_id: str | None = None,
    appeal_ids: tuple[int, ...] = (),
    score: float = 3.7,
) -> TensionPoint:
    return TensionPoint(
        id=7,
        kind=kind,
        key=f"{kind.value}:test",
        sector=sector,
        district=district,
        service_code=service_code,
        device_id=device_id,
        lat=54.51,
        lon=36.26,
        score=score,
        started_at=T0,
        ended_at=None,
        detected_at=T0,
        facts=dict(facts),
        appeal_ids=appeal_ids,
    )


SURGE = {"count": 37, "window_h": 24, "expected": 11.4, "normal_low": 9.2, "normal_high": 13.6,
         "cell": "sector"}  # fmt: skip
CLUSTER = {"count": 12, "radius_m": 250, "window_h": 24, "address": "ул. Гагарина, 9"}
RECURRENCE = {"count": 4, "days": 30, "address": "ул. Ленина — ул. Пушкина"}


def samples() -> list[TensionPoint]:
    """One point of each kind and cell, with full and with missing facts."""
    return [
        point(TensionKind.SURGE, SURGE),
        point(TensionKind.SURGE, {**SURGE, "cell": "service", "window_h": 6, "count": 21},
              service_code="road-damage"),
        point(TensionKind.SURGE, {"count": 2, "window_h": 1, "expected": 0.4}, district=""),
        point(TensionKind.CLUSTER, CLUSTER, sector="ЖКХ", service_code="housing"),
        point(TensionKind.CLUSTER, {"count": 5}, sector="ЖКХ", appeal_ids=(1, 2, 3, 4, 5)),
        point(TensionKind.RECURRENCE, RECURRENCE, service_code="traffic-signal",
              device_id="tl-lenina-pushkina"),
        point(TensionKind.RECURRENCE, {"count": 3, "days": 30, "address": "ул. Кирова, 1"},
              service_code="road-damage"),
        point(TensionKind.RECURRENCE, {}, appeal_ids=(4, 9)),
    ]  # fmt: skip


def names(p: TensionPoint, routing: Routing) -> list[str]:
    """The region's own words a text may quote in either language."""
    service = routing.service(p.service_code)
    raw = [p.sector, p.district, routing.region, p.device_id or "", str(p.facts.get("address", ""))]
    raw.append(service.service_name if service else "")
    return sorted((s for s in raw if s), key=len, reverse=True)


def violations(text: str, locale: str, quoted: list[str]) -> list[str]:
    """The appeal texts' rules (tests/appeals/test_text_rules.py), plus: no kind's key and
    no score."""
    bad = text_violations(text, locale, quoted)
    bad += [f"internal name {k!r}" for k in ("surge", "cluster", "recurrence") if k in text]
    bad += [f"double space in {text!r}" for _ in re.findall("  ", text)]
    if "3,7" in text or "3.7" in text:
        bad.append("the score")
    if locale == "en" and not re.search("[A-Za-z]{3}", text):
        bad.append("no English in an English text")
    return bad


@pytest.mark.parametrize("locale", ["ru", "en"])
def test_every_kind_keeps_the_appeal_text_rules(routing: Routing, locale: str) -> None:
    broken = {
        f"{p.kind.value} {dict(p.facts)}": (text, found)
        for p in samples()
        if (found := violations(text := explain(p, locale, routing), locale, names(p, routing)))
    }
    assert not broken, broken
    assert all(CYRILLIC.search(explain(p, "ru", routing)) for p in samples())


def test_a_surge_says_how_many_over_what_window_against_what_normal(routing: Routing) -> None:
    p = point(TensionKind.SURGE, SURGE)
    assert explain(p, "ru", routing) == (
        f"Дороги, Ленинский округ: 37{NB}обращений за сутки при норме 9–14"
    )
    assert explain(p, "en", routing) == (
        f"Дороги, Ленинский округ: 37{NB}appeals in a day against a usual 9–14"
    )
    one = point(TensionKind.SURGE, {**SURGE, "normal_low": 4, "normal_high": 4})
    assert explain(one, "ru", routing).endswith("при норме 4")
    bare = point(TensionKind.SURGE, {"count": 5, "window_h": 1, "expected": 1.5})
    assert explain(bare, "ru", routing).endswith(f"5{NB}обращений за час при обычных 1,5")


def test_a_service_cell_names_its_service_and_a_region_wide_one_the_region(
    routing: Routing,
) -> None:
    p = point(TensionKind.SURGE, {**SURGE, "cell": "service", "window_h": 6, "count": 21},
              service_code="road-damage", district="")  # fmt: skip
    assert explain(p, "ru", routing) == (
        f"Дороги, {routing.region}: 21{NB}обращение «Повреждение дорожного покрытия» "
        f"за 6{NB}часов при норме 9–14"
    )
    assert '21\u00a0appeals about "Повреждение дорожного покрытия" in 6\u00a0hours' in explain(
        p, "en", routing
    )


@pytest.mark.parametrize(
    ("hours", "ru", "en"),
    [
        (24, "за сутки", "in a day"),
        (48, f"за 2{NB}суток", f"in 2{NB}days"),
        (6, f"за 6{NB}часов", f"in 6{NB}hours"),
        (3, f"за 3{NB}часа", f"in 3{NB}hours"),
        (21, f"за 21{NB}час", f"in 21{NB}hours"),
        (1, "за час", "in an hour"),
        (0.5, f"за 30{NB}минут", f"in 30{NB}minutes"),
        (1.5, f"за 90{NB}минут", f"in 90{NB}minutes"),
    ],
)
def test_windows_read_as_people_say_them(routing: Routing, hours: float, ru: str, en: str) -> None:
    p = point(TensionKind.SURGE, {"count": 2, "window_h": hours})
    assert explain(p, "ru", routing) == f"Дороги, Ленинский округ: 2{NB}обращения {ru}"
    assert explain(p, "en", routing) == f"Дороги, Ленинский округ: 2{NB}appeals {en}"


@pytest.mark.parametrize(
    ("n", "word"),
    [(1, "обращение"), (2, "обращения"), (4, "обращения"), (5, "обращений"),
     (11, "обращений"), (12, "обращений"), (14, "обращений"), (21, "обращение"),
     (22, "обращения"), (25, "обращений"), (101, "обращение"), (111, "обращений")],
)  # fmt: skip
def test_counts_take_the_russian_plural_form(routing: Routing, n: int, word: str) -> None:
    assert plural_ru(n, ("обращение", "обращения", "обращений")) == word
    text = explain(point(TensionKind.CLUSTER, {"count": n}), "ru", routing)
    assert text == f"Дороги, Ленинский округ: {n}{NB}{word}"
    english = explain(point(TensionKind.CLUSTER, {"count": n}), "en", routing)
    assert english.endswith(f"{n}{NB}appeal" + ("" if n == 1 else "s"))


def test_a_cluster_says_what_within_what_distance_and_where(routing: Routing) -> None:
    p = point(TensionKind.CLUSTER, CLUSTER, sector="ЖКХ", service_code="housing")
    service = routing.service("housing")
    assert service is not None
    assert explain(p, "ru", routing) == (
        f"ЖКХ, Ленинский округ: 12{NB}обращений «{service.service_name}» в радиусе "
        f"250{NB}м за сутки (ул. Гагарина, 9)"
    )
    assert f"within 250{NB}m in a day (ул. Гагарина, 9)" in explain(p, "en", routing)


def test_a_recurrence_names_its_device_or_place(routing: Routing) -> None:
    device = point(TensionKind.RECURRENCE, RECURRENCE, service_code="traffic-signal",
                   device_id="tl-lenina-pushkina")  # fmt: skip
    assert explain(device, "ru", routing) == (
        f"Дороги, Ленинский округ: 4{NB}обращения «Неисправность светофора» за 30{NB}дней "
        "по одному устройству (tl-lenina-pushkina, ул. Ленина — ул. Пушкина)"
    )
    place = point(TensionKind.RECURRENCE, {"count": 21, "days": 30, "address": "ул. Кирова, 1"})
    assert explain(place, "ru", routing) == (
        f"Дороги, Ленинский округ: 21{NB}обращение за 30{NB}дней по одному месту (ул. Кирова, 1)"
    )
    assert explain(place, "en", routing).endswith(f"in 30{NB}days at one place (ул. Кирова, 1)")


def test_a_cluster_and_a_place_say_what_is_usual_there(routing: Routing) -> None:
    cluster = point(TensionKind.CLUSTER, {**CLUSTER, "expected": 1.5}, sector="ЖКХ",
                    service_code="housing")  # fmt: skip
    assert explain(cluster, "ru", routing).endswith("за сутки при обычных 1,5 (ул. Гагарина, 9)")
    assert "in a day against a usual 1.5 (ул. Гагарина, 9)" in explain(cluster, "en", routing)
    place = point(TensionKind.RECURRENCE, {**RECURRENCE, "expected": 0.06})
    assert explain(place, "ru", routing).endswith(
        f"за 30{NB}дней по одному месту при обычных 0,06 (ул. Ленина — ул. Пушкина)"
    )


def test_missing_facts_shorten_the_sentence_and_the_members_count(routing: Routing) -> None:
    p = point(TensionKind.RECURRENCE, {"days": "thirty", "count": None}, appeal_ids=(4, 9, 11))
    assert explain(p, "ru", routing) == f"Дороги, Ленинский округ: 3{NB}обращения по одному месту"
    unknown = point(TensionKind.SURGE, {"count": 8}, service_code="no-such-service")
    assert "no-such-service" not in explain(unknown, "ru", routing)
