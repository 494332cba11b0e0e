"""The weekly report's words in Russian and English, and how its numbers are written."""

from __future__ import annotations

from appeals._facts import NBSP, format_number

#: key -> (Russian, English)
WORDS: dict[str, tuple[str, str]] = {
    "title": ("Еженедельный анализ обращений", "Weekly analysis of appeals"),
    "week": ("неделя", "week"),
    "times_in": ("Все времена — ", "All times are "),
    "prepared": ("Подготовлено", "Prepared"),
    "headline": ("Итоги недели", "The week in figures"),
    "received": ("Поступило обращений", "Appeals received"),
    "citizen": ("от граждан", "from citizens"),
    "sensor": ("от датчиков", "from sensors"),
    "system": ("от других систем", "from other systems"),
    "citizen_short": ("граждане", "citizens"),
    "sensor_short": ("датчики", "sensors"),
    "system_short": ("другие системы", "other systems"),
    "resolved": ("Решено за неделю", "Resolved this week"),
    "overdue": ("С нарушением срока", "Past their deadline"),
    "overdue_note": (
        "обращения недели, решённые позже срока или открытые после него",
        "appeals of the week resolved after their deadline or still open past it",
    ),
    "previous_week": ("прошлая неделя", "previous week"),
    "per_day": ("Обращения по дням недели", "Appeals per day of the week"),
    "appeals_unit": ("обращений", "appeals"),
    "sectors": ("Отраслевые блоки", "Sector blocks"),
    "sector": ("Блок", "Sector block"),
    "districts": ("Районы", "Districts"),
    "district": ("Район", "District"),
    "this_week": ("За неделю", "This week"),
    "trend": ("Пять недель", "Five weeks"),
    "change": ("К среднему за 4 недели", "Against the 4-week mean"),
    "trend_note": (
        "Изменение — к среднему числу обращений за четыре предыдущие недели; столбики — "
        "пять недель, последний — отчётная.",
        "Change against the mean of the four weeks before; the bars show five weeks, the "
        "last one being the reported week.",
    ),
    "no_district": ("район не указан", "no district"),
    "points": ("Точки напряжённости", "Tension points"),
    "no_points": ("За неделю точек напряжённости не найдено.", "No tension points this week."),
    "kind": ("Вид", "Kind"),
    "where": ("Где", "Where"),
    "when": ("Когда", "When"),
    "what": ("Что происходит", "What is happening"),
    "surge": ("всплеск", "surge"),
    "cluster": ("скопление", "cluster"),
    "recurrence": ("повторение", "recurrence"),
    "still_active": ("продолжается", "still active"),
    "points_more": ("показаны {n} самых сильных", "the {n} strongest shown"),
    "ratings": ("Рейтинг ведомств", "Agencies' rating"),
    "no_ratings": (
        "Рейтинг ведомств за эту неделю не рассчитан.",
        "The agencies' rating is not available for this week.",
    ),
    "rank": ("Место", "Rank"),
    "agency": ("Ведомство", "Agency"),
    "appeals": ("Обращений", "Appeals"),
    "accept": ("Принятие: медиана / 90 %", "To accept: median / 90 %"),
    "resolve": ("Решение: медиана / 90 %", "To resolve: median / 90 %"),
    "on_time": ("В срок", "On time"),
    "overdue_col": ("Просрочено", "Overdue"),
    "reopened": ("Возвращено в работу", "Reopened"),
    "sensor_share": ("От датчиков", "From sensors"),
    "score": ("Баллы", "Points"),
    "not_ranked": ("мало обращений", "too few appeals"),
    "sensors_first": ("Датчики раньше граждан", "Sensors first"),
    "sf_none": (
        "За неделю не было неисправностей, о которых сообщили и датчики, и граждане.",
        "No fault this week was reported by both a sensor and citizens.",
    ),
    "sf_faults": (
        "Неисправностей, о которых сообщили и датчики, и граждане: {n}.",
        "Faults reported by both a sensor and citizens: {n}.",
    ),
    "sf_first": (
        "Датчик сообщил первым в {k} из них ({share}).",
        "A sensor reported first in {k} of them ({share}).",
    ),
    "sf_lead": (
        "Медианное опережение граждан: {lead}.",
        "Median lead over citizens: {lead}.",
    ),
    "sf_unknown": (
        "Данные о том, кто сообщил первым, за эту неделю недоступны.",
        "Who reported first is not available for this week.",
    ),
    "console_pick": ("Показать неделю", "Show week"),
    "print": ("Печать", "Print"),
    "download": ("Скачать", "Download"),
}
DAYS = (
    ("пн", "Mon"), ("вт", "Tue"), ("ср", "Wed"), ("чт", "Thu"), ("пт", "Fri"), ("сб", "Sat"),
    ("вс", "Sun"),
)  # fmt: skip


def word(key: str, locale: str) -> str:
    pair = WORDS[key]
    return pair[0] if locale == "ru" else pair[1]


def count_ru(n: int, one: str, few: str, many: str) -> str:
    """The Russian noun form for ``n``: 1 обращение, 3 обращения, 11 обращений."""
    if n % 10 == 1 and n % 100 != 11:
        return one
    if 2 <= n % 10 <= 4 and not 12 <= n % 100 <= 14:
        return few
    return many


def appeals_word(n: int, locale: str) -> str:
    if locale == "ru":
        return count_ru(n, "обращение", "обращения", "обращений")
    return "appeal" if n == 1 else "appeals"


def number(x: float, locale: str) -> str:
    return format_number(x, locale)


def percent(share: float | None, locale: str) -> str:
    """``63 %`` for 0.63; a dash for no share."""
    if share is None:
        return "—"
    return f"{format_number(round(share * 100), locale)}{NBSP}%"


def change(value: float | None, locale: str) -> str:
    """``+12 %``, ``−5 %``, ``0 %``; a dash when there is nothing to compare with."""
    if value is None:
        return "—"
    pct = round(value * 100)
    sign = "+" if pct > 0 else "−" if pct < 0 else ""
    return f"{sign}{format_number(abs(pct), locale)}{NBSP}%"
