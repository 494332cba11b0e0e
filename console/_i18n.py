"""The console's words in Russian (the default) and English.

Templates call ``t("key")``; a key missing in a language is a bug, so every key has both.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from appeals import APPEAL_STATUSES

LANGS = ("ru", "en")
LANG_COOKIE = "cp_lang"

_WORDS: Mapping[str, tuple[str, str]] = {
    "console": ("Пульт оператора", "Operators' console"),
    "queue": ("Очередь", "Queue"),
    "sign_in": ("Войти", "Sign in"),
    "sign_out": ("Выйти", "Sign out"),
    "key": ("Ключ API оператора", "Operator's API key"),
    "key_hint": (
        "Ключ выдаёт администратор (citypulse keys add). В адрес и журналы он не попадает.",
        "An administrator issues keys (citypulse keys add). It never reaches a URL or a log.",
    ),
    "bad_key": ("Ключ не подходит или отозван.", "The key is not valid or was revoked."),
    "not_operator": (
        "Этот ключ не оператора: нужен ключ оператора или администратора.",
        "This is not an operator's key: an operator's or an administrator's is required.",
    ),
    "expired": (
        "Форма устарела — откройте страницу заново и повторите.",
        "The form has expired: reload the page and try again.",
    ),
    "forbidden": ("Запрос отклонён", "Request refused"),
    "not_found": ("Не найдено", "Not found"),
    "no_appeal": ("Такого обращения нет или оно не вашего ведомства.", "No such appeal here."),
    "bad_filter": ("Неверный фильтр", "Bad filter"),
    "signed_in_as": ("Вы вошли как", "Signed in as"),
    "agency_only": ("только ведомство", "agency only"),
    "filters": ("Фильтры", "Filters"),
    "apply": ("Показать", "Show"),
    "reset": ("Сбросить", "Reset"),
    "any": ("любой", "any"),
    "sector": ("Блок", "Sector block"),
    "district": ("Район", "District"),
    "agency": ("Ведомство", "Agency"),
    "status": ("Статус", "Status"),
    "source": ("Источник", "Source"),
    "overdue": ("Просроченные", "Overdue"),
    "only_overdue": ("только просроченные", "overdue only"),
    "not_overdue": ("в срок", "on time"),
    "open": ("открытые", "open"),
    "closed_all": ("закрытые", "closed"),
    "all": ("все", "all"),
    "no_rows": ("Обращений по этим условиям нет.", "No appeals match."),
    "found": ("Найдено", "Found"),
    "page": ("Страница", "Page"),
    "prev": ("← Назад", "← Previous"),
    "next": ("Вперёд →", "Next →"),
    "id": ("№", "No."),
    "title": ("Обращение", "Appeal"),
    "received": ("Поступило", "Received"),
    "deadline": ("Срок", "Deadline"),
    "overdue_by": ("просрочено на", "overdue by"),
    "no_deadline": ("без срока", "no deadline"),
    "done_at": ("завершено", "finished"),
    "priority": ("Приоритет", "Priority"),
    "times_in": ("Время — ", "Times in "),
    "description": ("Текст", "Text"),
    "address": ("Адрес", "Address"),
    "contact": ("Заявитель", "Reporter"),
    "history": ("История", "History"),
    "when": ("Когда", "When"),
    "who": ("Кто", "Who"),
    "note": ("Примечание", "Note"),
    "evidence": ("Показания датчика", "Sensor evidence"),
    "no_readings": (
        "Показаний за это время в базе нет.",
        "No readings for this time in the database.",
    ),
    "threshold": ("порог", "limit"),
    "readings": ("показания", "readings"),
    "incident": ("инцидент", "incident"),
    "grafana": ("Панель в Grafana", "Grafana panel"),
    "device": ("Устройство", "Device"),
    "device_online": ("на связи", "online"),
    "device_offline": ("не на связи", "offline"),
    "device_unknown": ("состояние неизвестно", "state unknown"),
    "since": ("с", "since"),
    "per_broker": ("по статусу в брокере, сейчас", "the broker's status, live"),
    "per_database": ("по данным базы", "as the database last recorded"),
    "links": ("Связанные обращения", "Linked appeals"),
    "no_links": ("Связанных обращений нет.", "No linked appeals."),
    "group": ("Дубликат обращения", "Duplicate of appeal"),
    "actions": ("Действия", "Actions"),
    "accept": ("Принять", "Accept"),
    "progress": ("В работу", "Start work"),
    "resolve": ("Решено", "Resolve"),
    "close": ("Закрыть", "Close"),
    "reject": ("Отклонить", "Reject"),
    "transfer": ("Передать", "Transfer"),
    "add_note": ("Добавить примечание", "Add note"),
    "duplicate": ("Отметить дубликатом", "Mark duplicate"),
    "duplicate_of": ("Дубликат обращения №", "Duplicate of appeal No."),
    "reason": ("Причина", "Reason"),
    "note_optional": ("Примечание (необязательно)", "Note (optional)"),
    "to_agency": ("Кому", "To"),
    "final": ("Обращение завершено; доступно только примечание.", "The appeal is finished."),
    "done": ("Сделано", "Done"),
    "refused": ("Не сделано", "Not done"),
    "reason_required": ("Укажите причину.", "Give a reason."),
    "note_required": ("Напишите примечание.", "Write a note."),
    "bad_agency": (
        "Выберите другое ведомство из списка.",
        "Choose another agency from the list.",
    ),
    "no_original": (
        "Укажите номер другого обращения, которое вам видно.",
        "Give the number of another appeal you can see.",
    ),
    "not_now": (
        "Обращение уже в другом статусе — это действие недоступно. Обновите страницу.",
        "The appeal's status has changed; this action is not available. Reload the page.",
    ),
    "live": ("Обновлено", "Updated"),
    "new_appeals": ("Есть изменения — обновить", "Changes — reload"),
    "language": ("English", "Русский"),
    "sensor": ("датчик", "sensor"),
    "citizen": ("гражданин", "citizen"),
    "system": ("система", "system"),
    **APPEAL_STATUSES,
    "p1": ("низкий", "low"),
    "p2": ("средний", "medium"),
    "p3": ("высокий", "high"),
    "p4": ("критический", "critical"),
    "confirms": ("подтверждает", "confirms"),
    "related": ("связано", "related"),
    "distance": ("м", "m"),
    "back": ("← К очереди", "← Back to the queue"),
    "map": ("Карта", "Map"),
    "weekly": ("Анализ недели", "Weekly analysis"),
    "week_pick": ("Неделя", "Week"),
    "week_show": ("Показать", "Show"),
    "week_previous": ("← предыдущая", "← previous"),
    "week_next": ("следующая →", "next →"),
    "on_map": ("На карте", "On the map"),
    "map_hint": (
        "Обращения очереди с теми же фильтрами и все устройства. Знак обращения открывает "
        "его, округ — очередь по округу; сдвинутый знак связан линией со своим местом.",
        "The queue's appeals under the same filters, and every device. An appeal's marker "
        "opens it, a district the queue for that district; a moved marker is tied to its "
        "place by a line.",
    ),
    "map_shown": ("На карте обращений", "Appeals on the map"),
    "map_unplaced": ("без места (нет координат)", "without a place (no coordinates)"),
    "map_more": (
        "Показаны первые {n}; остальные — в очереди.",
        "The first {n} are shown; the rest are in the queue.",
    ),
    "kind_traffic_light": ("светофор", "traffic light"),
    "kind_ecology": ("пост наблюдения", "air monitoring station"),
    "kind_parking": ("парковка", "parking"),
    "kind_camera": ("камера", "camera"),
    "map_sensor": ("обращение датчика", "sensor appeal"),
    "map_citizen": ("сообщение гражданина", "citizen's report"),
    "map_system": ("событие системы", "system event"),
    "map_offline": ("устройство не на связи", "device offline"),
    "map_street": ("улица", "street"),
    "map_district": ("округ (ссылка на очередь)", "district (links to the queue)"),
    "tension": ("Точки напряжённости", "Tension points"),
    "tension_hint": (
        "Где обращений больше обычного для места и времени недели: всплески по блокам и "
        "округам, скопления обращений на одну тему в одном месте, повторы по одному "
        "устройству или месту за 30 дней.",
        "Where appeals pile up beyond what is usual for the place and the time of week: "
        "surges per sector block and district, clusters of one theme in one place, one "
        "device or place coming back within 30 days.",
    ),
    "period": ("Период", "Period"),
    "period_active": ("только активные", "active only"),
    "period_1d": ("за сутки", "last day"),
    "period_7d": ("за 7 дней", "last 7 days"),
    "period_30d": ("за 30 дней", "last 30 days"),
    "kind": ("Вид", "Kind"),
    "surge": ("всплеск", "surge"),
    "cluster": ("скопление", "cluster"),
    "recurrence": ("повторы", "recurrence"),
    "active_points": ("Активные", "Active"),
    "ended_points": ("Завершившиеся за период", "Ended in the period"),
    "no_points": ("Точек напряжённости нет.", "No tension points."),
    "what": ("Что", "What"),
    "strength": ("Сила", "Strength"),
    "strength_hint": (
        "Во сколько раз сильнее обычного; сравнима внутри одного вида",
        "How far beyond normal; comparable within one kind",
    ),
    "started": ("Начало", "Started"),
    "ended": ("Конец", "Ended"),
    "ongoing": ("продолжается", "ongoing"),
    "members": ("Обращения", "Appeals"),
    "coordinates": ("Место", "Place"),
    "more_points": (
        "Показаны первые {n}; сузьте фильтры.",
        "The first {n} are shown; narrow the filters.",
    ),
    "map_leader": ("знак сдвинут, линия — к его месту", "moved; the line leads to its place"),
    # the ratings page (console/_ratings.py)
    "ratings": ("Рейтинг ведомств", "Agencies' ratings"),
    "rank": ("Место", "Rank"),
    "period_from": ("с", "from"),
    "period_to": ("по", "to"),
    "by_agency": ("По ведомствам", "By agency"),
    "by_sector": ("По блокам", "By sector block"),
    "no_agency": ("(не назначено)", "(unassigned)"),
    "accept_time": ("Принятие, медиана / p90", "To accept, median / p90"),
    "resolve_time": ("Решение, медиана / p90", "To resolve, median / p90"),
    "on_time": ("В срок", "On time"),
    "reopened": ("Повторные", "Reopened"),
    "sensor_share": ("От датчиков", "From sensors"),
    "score": ("Балл", "Score"),
    "times_median_p90": (
        "Время — медиана и 90-й процентиль: 9 из 10 обращений приняты (решены) не дольше.",
        "Times are the median and the 90th percentile: 9 in 10 appeals took no longer.",
    ),
    "sensors_first": ("Датчики раньше жителей", "Sensors first"),
    "faults_both": ("Неисправностей (датчик и жители)", "Faults (sensor and citizens)"),
    "sensor_was_first": ("Датчик первым", "Sensor first"),
    "median_lead": ("Медианное опережение", "Median lead"),
    "sensor_ahead": ("датчик раньше на", "sensor ahead by"),
    "citizens_ahead": ("жители раньше на", "citizens ahead by"),
    "formula": ("Как считается балл", "How the score is computed"),
    "formula_score": (
        "Балл от 0 до 100 = 40 % × доля решённых в срок + 20 % × скорость + 20 % × доля "
        "непросроченных + 20 % × доля неповторных. Часть без данных (нет обращений со "
        "сроком) не учитывается, её вес делится между остальными.",
        "Score from 0 to 100 = 40 % × share resolved on time + 20 % × speed + 20 % × share "
        "not overdue + 20 % × share not reopened. A part without data (no appeals with a "
        "deadline) is left out and its weight shared by the others.",
    ),
    "formula_parts": (
        "В срок — из обращений со сроком, которые решены или срок которых уже прошёл, "
        "решённые не позже срока; отклонённые не считаются. Скорость — 1, если 9 из 10 "
        "обращений решены в пределах своего срока, и падает до 0, когда 90-й процентиль "
        "достигает двойного срока. Просроченные — открытые после срока. Повторные — "
        "возвращённые из «решено» в работу и новые обращения по тому же датчику или месту "
        "(до 50 м) и той же услуге в течение 30 дней после решения; каждое считается один "
        "раз. Обращения других систем (видеоаналитика, 112, жилинспекция) — не датчики.",
        "On time: of the appeals with a deadline that are resolved or past it, those "
        "resolved by it; rejected ones do not count. Speed: 1 when 9 in 10 appeals are "
        "resolved within their deadline, falling to 0 when the 90th percentile reaches twice "
        "the deadline. Overdue: open past the deadline. Reopened: taken back to work from "
        "resolved, and new appeals on the same device or place (within 50 m) and service "
        "within 30 days of a resolution; each counted once. Other systems' events (video "
        "analytics, 112, housing inspection) are not sensors.",
    ),
    "formula_rank": (
        "Место получают ведомства и блоки, у которых за период не меньше {n} обращений.",
        "Agencies and blocks with at least {n} appeals in the period are ranked.",
    ),
    "formula_sensors": (
        "Датчики раньше жителей — неисправности, о которых сообщили и датчик, и жители "
        "(обращения связаны или в одной группе): как часто датчик был первым и на сколько "
        "(медиана; отрицательное — жители раньше).",
        "Sensors first: faults reported both by a sensor and by citizens (linked or "
        "grouped appeals): how often the sensor came first and by how much (median; "
        "negative means citizens first).",
    ),
}


def words(lang: str) -> Callable[[str], str]:
    """``t(key)`` for ``lang``: the word, or the key itself for values with no word
    (an unknown status from a newer database, say)."""
    index = 1 if lang == "en" else 0

    def t(key: str) -> str:
        pair = _WORDS.get(key)
        return pair[index] if pair else key

    return t
