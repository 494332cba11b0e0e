"""What simulated citizens write: a few plain Russian descriptions per service.

``{place}`` is replaced by the street or address nearest the report (a district's
intersection or lot), so that reports about one place read alike, as real ones do.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

TEXTS: Mapping[str, tuple[str, ...]] = MappingProxyType(
    {
        "housing": (
            "В подъезде не убирают уже две недели, {place}",
            "Течёт крыша, заливает квартиру на последнем этаже, {place}",
            "Холодные батареи в квартире, {place}",
            "Не работает лифт, {place}",
        ),
        "road-damage": (
            "Большая яма на проезжей части, {place}",
            "Разбит асфальт, машины объезжают по встречной, {place}",
            "Провал дорожного покрытия у обочины, {place}",
            "Выбоины после зимы, опасно ездить, {place}",
        ),
        "waste": (
            "Контейнеры переполнены, мусор не вывозят третий день, {place}",
            "Мусор вокруг контейнерной площадки, {place}",
            "Не вывезли крупногабаритный мусор, {place}",
        ),
        "street-lighting": (
            "Не горят фонари, на улице темно, {place}",
            "Фонарь мигает всю ночь, {place}",
            "Повреждена опора освещения, {place}",
        ),
        "utility-outage": (
            "Нет горячей воды с утра, {place}",
            "Отключили отопление без предупреждения, {place}",
            "Нет электричества в доме, {place}",
        ),
        "parking": (
            "Парковка забита, мест нет, {place}",
            "Машины паркуются на газоне, {place}",
            "Табло парковки показывает свободные места, а их нет, {place}",
        ),
        "traffic-congestion": (
            "Огромная пробка, стоим полчаса, {place}",
            "Затор на перекрёстке, машины не успевают проехать, {place}",
        ),
        "traffic-signal": (
            "Не работает светофор, {place}",
            "Светофор мигает жёлтым, водители не знают, кто едет, {place}",
            "Светофор завис на красном, {place}",
            "Не горит одна из секций светофора, {place}",
        ),
        "road-accident": (
            "ДТП, перекрыта полоса, {place}",
            "Авария на перекрёстке, нужна помощь, {place}",
        ),
        "road-obstruction": (
            "Брошенная машина мешает проезду, {place}",
            "На дороге упавшее дерево, {place}",
        ),
        "air-quality": (
            "Сильный запах гари, невозможно открыть окно, {place}",
            "Смог и дым над районом, трудно дышать, {place}",
            "Неприятный химический запах на улице, {place}",
        ),
        "public-safety": (
            "Большое скопление людей, похоже на драку, {place}",
            "Открытый люк на тротуаре, {place}",
        ),
        "noise": (
            "Шумят по ночам соседи, {place}",
            "Ночью ведутся строительные работы, {place}",
        ),
        "traffic-camera": ("Камера на перекрёстке разбита, {place}",),
        "eco-monitoring": ("Пост наблюдения за воздухом повреждён, {place}",),
        "city-sensors": ("Датчик на столбе сломан, {place}",),
    }
)
TEXT_COUNT = max(len(t) for t in TEXTS.values())


def describe(service: str, index: int, place: str) -> str:
    """Description number ``index`` (taken modulo the service's count) about ``place``."""
    texts = TEXTS[service]
    return texts[index % len(texts)].format(place=place)
