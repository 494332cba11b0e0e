"""Routing: which sector block, Open311 service, agency, priority and deadline an incident
or a citizen's report gets, and which district a point lies in.

The configuration is a YAML file (``appeals/routing.default.yaml`` documents every key;
``CITYPULSE_ROUTING_FILE`` names another) and the GeoJSON district boundaries it names,
read from beside it.  Both are validated completely when loaded, so a typo stops
``citypulse serve`` at start with the place in the file, never mid-incident.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml

from appeals._districts import DistrictMap, parse_districts
from appeals._errors import RoutingError
from citypulse import LOCALES, SLUG_RE, DeviceKind, EventIncidentType, IncidentType

DEFAULT_ROUTING = "routing.default.yaml"
_SERVICE_CODE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}\Z")
_DURATION = re.compile(r"^(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?\Z")
_TOP_KEYS = frozenset(
    {
        "region",
        "timezone",
        "locale",
        "sectors",
        "districts",
        "district_boundaries",
        "correlation",
        "services",
        "routes",
        "events",
    }
)
_EVENT_TYPE = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,63}\Z")
_ROUTE_KEYS = frozenset(
    {"sector", "service_code", "agency", "priority", "deadline", "auto_resolve"}
)
_SERVICE_KEYS = frozenset(
    {
        "service_code",
        "service_name",
        "description",
        "group",
        "keywords",
        "agency",
        "priority",
        "deadline",
    }
)


@dataclass(frozen=True, slots=True)
class Service:
    """One entry of the Open311 services list; ``group`` is the sector block, and with
    ``agency``, ``priority`` and ``deadline`` the route of citizens' reports to it."""

    service_code: str
    service_name: str
    description: str
    group: str
    agency: str
    priority: int
    deadline: timedelta
    keywords: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Route:
    """Where an incident type goes, and how urgently."""

    sector: str
    service_code: str
    agency: str
    priority: int
    deadline: timedelta
    auto_resolve: bool = True


@dataclass(frozen=True, slots=True)
class Correlation:
    """A citizen report and a sensor appeal this close in space and time are linked."""

    distance_m: float = 300.0
    window: timedelta = timedelta(hours=2)


@dataclass(frozen=True, slots=True)
class EventSource:
    """Another system that sends events: its names in texts, and its event types mapped
    to the incident types they open."""

    name_ru: str
    name_en: str
    types: Mapping[str, EventIncidentType]

    def name(self, locale: str) -> str:
        return self.name_ru if locale == "ru" else self.name_en


@dataclass(frozen=True, slots=True)
class Events:
    """The ``events`` section: who may send events, and when two are one situation (same
    incident type, within ``distance_m`` and ``window`` of the open incident's last event)."""

    sources: Mapping[str, EventSource] = field(default_factory=dict)
    distance_m: float = 150.0
    window: timedelta = timedelta(hours=1)


@dataclass(frozen=True, slots=True)
class Routing:
    """The whole validated routing configuration."""

    region: str
    timezone: str
    locale: str
    sectors: tuple[str, ...]
    services: tuple[Service, ...]
    routes: Mapping[IncidentType, Route]
    by_kind: Mapping[tuple[IncidentType, DeviceKind], Route] = field(default_factory=dict)
    districts: Mapping[str, str] = field(default_factory=dict)
    boundaries: DistrictMap = field(default_factory=DistrictMap)
    correlation: Correlation = field(default_factory=Correlation)
    event_routes: Mapping[EventIncidentType, Route] = field(default_factory=dict)
    events: Events = field(default_factory=Events)

    def route(self, incident_type: IncidentType, kind: DeviceKind | None = None) -> Route:
        """The route for ``incident_type`` on a device of ``kind`` (every type has one)."""
        if kind is not None:
            special = self.by_kind.get((incident_type, kind))
            if special is not None:
                return special
        return self.routes[incident_type]

    def event_route(self, incident_type: EventIncidentType) -> Route:
        """The route for an incident another system's event opened (every type has one)."""
        return self.event_routes[incident_type]

    def service(self, service_code: str) -> Service | None:
        for s in self.services:
            if s.service_code == service_code:
                return s
        return None

    def route_for_service(self, service_code: str) -> Route | None:
        """The route of a citizen's report to ``service_code`` (None for an unknown code):
        the service's group as sector block, its agency, priority and deadline."""
        s = self.service(service_code)
        if s is None:
            return None
        return Route(
            sector=s.group,
            service_code=s.service_code,
            agency=s.agency,
            priority=s.priority,
            deadline=s.deadline,
        )

    def district_name(self, slug: str) -> str:
        return self.districts.get(slug, slug)

    def district_at(self, lat: float, lon: float) -> str | None:
        """The slug of the district whose boundary holds the point (None outside all)."""
        return self.boundaries.locate(lat, lon)

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)


def parse_duration(text: str) -> timedelta:
    """``30m``, ``4h``, ``3d``, ``1d12h``, ``90s`` -> timedelta; ValueError otherwise."""
    match = _DURATION.match(text.strip())
    if not text.strip() or match is None:
        raise ValueError(f"not a duration like 30m, 4h, 3d: {text!r}")
    d, h, m, s = (int(g or 0) for g in match.groups())
    value = timedelta(days=d, hours=h, minutes=m, seconds=s)
    if value <= timedelta(0):
        raise ValueError(f"duration must be positive: {text!r}")
    return value


def load_routing(path: str | Path | None = None) -> Routing:
    """Load and validate the routing file (default: the one shipped in the package); the
    files it names are read from its folder."""
    if path is None:
        text = resources.files("appeals").joinpath(DEFAULT_ROUTING).read_text("utf-8")
        return parse_routing(text, source=DEFAULT_ROUTING)
    try:
        text = Path(path).read_text("utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise RoutingError(str(path), "file", f"cannot read: {exc}") from exc
    return parse_routing(text, source=str(path), folder=Path(path).parent)


def parse_routing(
    text: str, *, source: str = "<routing>", folder: Path | Traversable | None = None
) -> Routing:
    """Validate a routing document; :class:`RoutingError` names the first bad place.
    Relative paths in it (``district_boundaries``) are read from ``folder``, by default
    the package's own, where the shipped defaults sit."""
    try:
        doc = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise RoutingError(source, "file", f"not valid YAML: {exc}") from exc
    return _Parser(source, folder or resources.files("appeals")).routing(doc)


class _Parser:
    def __init__(self, source: str, folder: Path | Traversable) -> None:
        self.source = source
        self.folder = folder

    def fail(self, where: str, message: str) -> RoutingError:
        return RoutingError(self.source, where, message)

    def mapping(self, value: object, where: str) -> dict[str, Any]:
        if not isinstance(value, dict) or not all(isinstance(k, str) for k in value):
            raise self.fail(where, "expected a mapping with text keys")
        return value

    def text(self, value: object, where: str, *, empty: bool = False) -> str:
        if not isinstance(value, str) or (not empty and not value.strip()):
            raise self.fail(where, "expected non-empty text")
        return value.strip()

    def keys(self, value: dict[str, Any], allowed: frozenset[str], where: str) -> None:
        unknown = sorted(set(value) - allowed)
        if unknown:
            raise self.fail(where, f"unknown key(s) {', '.join(unknown)}")

    def routing(self, doc: object) -> Routing:
        top = self.mapping(doc, "top level")
        self.keys(top, _TOP_KEYS, "top level")
        for key in ("region", "sectors", "services", "routes"):
            if key not in top:
                raise self.fail(key, "missing")
        tz = self.text(top.get("timezone", "Europe/Moscow"), "timezone")
        try:
            ZoneInfo(tz)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise self.fail("timezone", f"unknown time zone {tz!r}") from exc
        locale = self.text(top.get("locale", "ru"), "locale")
        if locale not in LOCALES:
            raise self.fail("locale", f"must be one of {', '.join(LOCALES)}")
        sectors_raw = top["sectors"]
        if not isinstance(sectors_raw, list) or not sectors_raw:
            raise self.fail("sectors", "expected a non-empty list of sector blocks")
        sectors = tuple(self.text(s, f"sectors[{i}]") for i, s in enumerate(sectors_raw))
        if len(set(sectors)) != len(sectors):
            raise self.fail("sectors", "a sector block is listed twice")
        services = self.services(top["services"], sectors)
        codes = {s.service_code for s in services}
        routes, by_kind, event_routes = self.routes(top["routes"], sectors, codes)
        districts = {
            k: self.text(v, f"districts.{k}")
            for k, v in self.mapping(top.get("districts", {}) or {}, "districts").items()
        }
        boundaries = DistrictMap()
        if top.get("district_boundaries") is not None:
            boundaries = self.boundaries(top["district_boundaries"], districts)
        return Routing(
            region=self.text(top["region"], "region"),
            timezone=tz,
            locale=locale,
            sectors=sectors,
            services=services,
            routes=routes,
            by_kind=by_kind,
            districts=districts,
            boundaries=boundaries,
            correlation=self.correlation(top.get("correlation", {}) or {}),
            event_routes=event_routes,
            events=self.events(top.get("events", {}) or {}),
        )

    def events(self, value: object) -> Events:
        raw = self.mapping(value, "events")
        self.keys(raw, frozenset({"dedup", "sources"}), "events")
        dedup = self.mapping(raw.get("dedup", {}) or {}, "events.dedup")
        self.keys(dedup, frozenset({"distance_m", "window"}), "events.dedup")
        distance = dedup.get("distance_m", 150)
        if isinstance(distance, bool) or not isinstance(distance, int | float) or distance <= 0:
            raise self.fail("events.dedup.distance_m", "expected a positive number of metres")
        sources: dict[str, EventSource] = {}
        for slug, item in self.mapping(raw.get("sources", {}) or {}, "events.sources").items():
            where = f"events.sources.{slug}"
            if not SLUG_RE.match(slug):
                raise self.fail(where, "a source is named by letters, digits, _ and - only")
            spec = self.mapping(item, where)
            self.keys(spec, frozenset({"name", "name_en", "types"}), where)
            types: dict[str, EventIncidentType] = {}
            mapping = self.mapping(spec.get("types"), f"{where}.types")
            if not mapping:
                raise self.fail(f"{where}.types", "map at least one event type")
            for name, target in mapping.items():
                if not _EVENT_TYPE.match(name):
                    raise self.fail(f"{where}.types.{name}", "lowercase letters, digits, _ . -")
                try:
                    types[name] = EventIncidentType(self.text(target, f"{where}.types.{name}"))
                except ValueError:
                    known = ", ".join(t.value for t in EventIncidentType)
                    raise self.fail(
                        f"{where}.types.{name}", f"{target!r} is not one of {known}"
                    ) from None
            name_ru = self.text(spec.get("name"), f"{where}.name")
            sources[slug] = EventSource(
                name_ru=name_ru,
                name_en=self.text(spec.get("name_en", name_ru), f"{where}.name_en"),
                types=types,
            )
        return Events(
            sources=sources,
            distance_m=float(distance),
            window=self.duration(dedup.get("window", "1h"), "events.dedup.window"),
        )

    def boundaries(self, value: object, districts: Mapping[str, str]) -> DistrictMap:
        name = self.text(value, "district_boundaries")
        file = Path(name) if Path(name).is_absolute() else self.folder.joinpath(name)
        try:
            text = file.read_text("utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise self.fail("district_boundaries", f"cannot read {name}: {exc}") from exc
        return parse_districts(text, source=str(file), districts=districts)

    def correlation(self, value: object) -> Correlation:
        raw = self.mapping(value, "correlation")
        self.keys(raw, frozenset({"distance_m", "window"}), "correlation")
        distance = raw.get("distance_m", 300)
        if isinstance(distance, bool) or not isinstance(distance, int | float) or distance <= 0:
            raise self.fail("correlation.distance_m", "expected a positive number of metres")
        return Correlation(
            distance_m=float(distance),
            window=self.duration(raw.get("window", "2h"), "correlation.window"),
        )

    def priority(self, value: object, where: str) -> int:
        if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 4:
            raise self.fail(where, "expected an integer 1 (low) .. 4 (critical)")
        return value

    def duration(self, value: object, where: str) -> timedelta:
        try:
            return parse_duration(self.text(value, where))
        except ValueError as exc:
            raise self.fail(where, str(exc)) from exc

    def services(self, value: object, sectors: tuple[str, ...]) -> tuple[Service, ...]:
        if not isinstance(value, list) or not value:
            raise self.fail("services", "expected a non-empty list")
        out: list[Service] = []
        for i, item in enumerate(value):
            where = f"services[{i}]"
            raw = self.mapping(item, where)
            self.keys(raw, _SERVICE_KEYS, where)
            code = self.text(raw.get("service_code"), f"{where}.service_code")
            if not _SERVICE_CODE.match(code):
                raise self.fail(f"{where}.service_code", f"{code!r}: letters, digits, . _ - only")
            if any(s.service_code == code for s in out):
                raise self.fail(f"{where}.service_code", f"{code!r} is listed twice")
            group = self.text(raw.get("group"), f"{where}.group")
            if group not in sectors:
                raise self.fail(f"{where}.group", f"{group!r} is not one of the sectors")
            keywords = raw.get("keywords", []) or []
            if not isinstance(keywords, list):
                raise self.fail(f"{where}.keywords", "expected a list")
            for key in ("agency", "priority", "deadline"):  # the route of citizens' reports
                if key not in raw:
                    raise self.fail(f"{where}.{key}", "missing: every service routes reports")
            out.append(
                Service(
                    service_code=code,
                    service_name=self.text(raw.get("service_name"), f"{where}.service_name"),
                    description=self.text(
                        raw.get("description", ""), f"{where}.description", empty=True
                    ),
                    group=group,
                    agency=self.text(raw["agency"], f"{where}.agency"),
                    priority=self.priority(raw["priority"], f"{where}.priority"),
                    deadline=self.duration(raw["deadline"], f"{where}.deadline"),
                    keywords=tuple(
                        self.text(k, f"{where}.keywords[{j}]") for j, k in enumerate(keywords)
                    ),
                )
            )
        return tuple(out)

    def routes(
        self, value: object, sectors: tuple[str, ...], codes: set[str]
    ) -> tuple[
        dict[IncidentType, Route],
        dict[tuple[IncidentType, DeviceKind], Route],
        dict[EventIncidentType, Route],
    ]:
        raw = self.mapping(value, "routes")
        known = {t.value for t in IncidentType} | {t.value for t in EventIncidentType}
        unknown = sorted(set(raw) - known)
        if unknown:
            raise self.fail("routes", f"unknown incident type(s) {', '.join(unknown)}")
        missing = sorted(known - set(raw))
        if missing:
            raise self.fail("routes", f"no route for incident type(s) {', '.join(missing)}")
        routes: dict[IncidentType, Route] = {}
        by_kind: dict[tuple[IncidentType, DeviceKind], Route] = {}
        event_routes: dict[EventIncidentType, Route] = {}
        events = {t.value for t in EventIncidentType}
        for name, item in raw.items():
            where = f"routes.{name}"
            spec = self.mapping(item, where)
            if name in events:  # another system's event: no device, so no kinds
                self.keys(spec, _ROUTE_KEYS, where)
                event_routes[EventIncidentType(name)] = self.route(
                    spec, where, sectors, codes, None
                )
                continue
            self.keys(spec, _ROUTE_KEYS | {"kinds"}, where)
            base = self.route(spec, where, sectors, codes, None)
            routes[IncidentType(name)] = base
            kinds = self.mapping(spec.get("kinds", {}) or {}, f"{where}.kinds")
            for kind_name, override in kinds.items():
                kwhere = f"{where}.kinds.{kind_name}"
                try:
                    kind = DeviceKind(kind_name)
                except ValueError:
                    raise self.fail(kwhere, "not a device kind") from None
                kspec = self.mapping(override, kwhere)
                self.keys(kspec, _ROUTE_KEYS, kwhere)
                by_kind[(IncidentType(name), kind)] = self.route(
                    kspec, kwhere, sectors, codes, base
                )
        return routes, by_kind, event_routes

    def route(
        self,
        spec: dict[str, Any],
        where: str,
        sectors: tuple[str, ...],
        codes: set[str],
        base: Route | None,
    ) -> Route:
        def pick(key: str) -> object:
            if key in spec:
                return spec[key]
            if base is not None:
                return getattr(base, key)
            if key == "auto_resolve":
                return True
            raise self.fail(f"{where}.{key}", "missing")

        sector = self.text(pick("sector"), f"{where}.sector")
        if sector not in sectors:
            raise self.fail(f"{where}.sector", f"{sector!r} is not one of the sectors")
        code = self.text(pick("service_code"), f"{where}.service_code")
        if code not in codes:
            raise self.fail(f"{where}.service_code", f"{code!r} is not in services")
        priority = self.priority(pick("priority"), f"{where}.priority")
        deadline = pick("deadline")
        auto = pick("auto_resolve")
        if not isinstance(auto, bool):
            raise self.fail(f"{where}.auto_resolve", "expected true or false")
        return Route(
            sector=sector,
            service_code=code,
            agency=self.text(pick("agency"), f"{where}.agency"),
            priority=priority,
            deadline=deadline
            if isinstance(deadline, timedelta)
            else self.duration(deadline, f"{where}.deadline"),
            auto_resolve=auto,
        )
