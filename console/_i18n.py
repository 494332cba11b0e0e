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
}


def words(lang: str) -> Callable[[str], str]:
    """``t(key)`` for ``lang``: the word, or the key itself for values with no word
    (an unknown status from a newer database, say)."""
    index = 1 if lang == "en" else 0

    def t(key: str) -> str:
        pair = _WORDS.get(key)
        return pair[index] if pair else key

    return t
