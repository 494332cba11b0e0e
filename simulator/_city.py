"""The simulated city: districts, intersections on a street grid, parking lots, stations.

Two builders: :func:`preset_city` (a compact layout modelled on Kaluga's centre, around
54.51 N 36.26 E) and :func:`generated_city` (a grid of any size with real-looking Russian
street names).  Intersections sit on a grid of streets, so "upstream" for congestion is
simply the neighbouring intersection along either street.
"""

from __future__ import annotations

import enum
import math
import random
from collections.abc import Mapping
from dataclasses import dataclass, field

from citypulse import Device, DeviceKind

APPROACHES = ("n", "e", "s", "w")
_APPROACH_NAMES = {"n": "с севера", "e": "с востока", "s": "с юга", "w": "с запада"}


class DistrictProfile(enum.StrEnum):
    """What a district is mostly used for; shapes parking and traffic."""

    BUSINESS = "business"
    MIXED = "mixed"
    RESIDENTIAL = "residential"


@dataclass(frozen=True, slots=True)
class District:
    slug: str
    name: str
    profile: DistrictProfile


@dataclass(frozen=True, slots=True)
class Intersection:
    """A signalised crossing of an east-west ``main`` street and a north-south ``cross`` one."""

    id: str
    name: str
    district: str
    lat: float
    lon: float
    row: int
    col: int
    main_street: str
    cross_street: str
    weight: float  # relative traffic volume, about 0.6..1.2
    lanes: Mapping[str, int]  # approach -> lanes counted by its camera

    @property
    def controller_id(self) -> str:
        return f"tl-{self.id}"

    def camera_id(self, approach: str) -> str:
        return f"cam-{self.id}-{approach}"

    @property
    def camera_ids(self) -> tuple[str, ...]:
        return tuple(self.camera_id(a) for a in APPROACHES if a in self.lanes)


@dataclass(frozen=True, slots=True)
class ParkingLot:
    id: str
    name: str
    district: str
    address: str
    lat: float
    lon: float
    total_spots: int
    profile: DistrictProfile


@dataclass(frozen=True, slots=True)
class Station:
    """An ecology station: air quality, noise and weather."""

    id: str
    name: str
    district: str
    address: str
    lat: float
    lon: float
    traffic_exposure: float  # how strongly traffic drives its readings, about 0.5..1.5


@dataclass(frozen=True, slots=True)
class Intervals:
    """How often each kind of device reports, in seconds of simulated time."""

    camera_s: float = 60.0
    parking_s: float = 300.0
    ecology_s: float = 1200.0
    heartbeat_s: float = 60.0  # a traffic light reports at least this often

    def __post_init__(self) -> None:
        for name in ("camera_s", "parking_s", "ecology_s", "heartbeat_s"):
            if not getattr(self, name) > 0:
                raise ValueError(f"interval {name} must be positive")

    def of(self, kind: DeviceKind) -> float:
        return {
            DeviceKind.TRAFFIC_LIGHT: self.heartbeat_s,
            DeviceKind.CAMERA: self.camera_s,
            DeviceKind.PARKING: self.parking_s,
            DeviceKind.ECOLOGY: self.ecology_s,
        }[kind]


@dataclass(frozen=True, slots=True)
class City:
    name: str
    districts: tuple[District, ...]
    intersections: tuple[Intersection, ...]
    parking: tuple[ParkingLot, ...]
    stations: tuple[Station, ...]
    _by_cell: Mapping[tuple[int, int], Intersection] = field(
        default_factory=dict, repr=False, compare=False
    )

    def __post_init__(self) -> None:
        cells = {(i.row, i.col): i for i in self.intersections}
        object.__setattr__(self, "_by_cell", cells)

    def district(self, slug: str) -> District:
        for d in self.districts:
            if d.slug == slug:
                return d
        raise KeyError(slug)

    def intersection(self, intersection_id: str) -> Intersection:
        for i in self.intersections:
            if i.id == intersection_id:
                return i
        raise KeyError(intersection_id)

    def neighbours(self, intersection_id: str) -> tuple[Intersection, ...]:
        """Adjacent intersections along either street (the upstream candidates)."""
        i = self.intersection(intersection_id)
        cells = ((i.row - 1, i.col), (i.row + 1, i.col), (i.row, i.col - 1), (i.row, i.col + 1))
        return tuple(self._by_cell[c] for c in cells if c in self._by_cell)

    def devices(self, intervals: Intervals | None = None) -> tuple[Device, ...]:
        """Every field device in a stable order: per intersection, then lots, then stations."""
        iv = intervals or Intervals()
        heartbeat_s, camera_interval_s = iv.heartbeat_s, iv.camera_s
        parking_interval_s, ecology_interval_s = iv.parking_s, iv.ecology_s
        out: list[Device] = []
        for i in self.intersections:
            out.append(
                Device(
                    id=i.controller_id,
                    kind=DeviceKind.TRAFFIC_LIGHT,
                    name=f"Светофорный объект {i.name}",
                    district=i.district,
                    address=i.name,
                    lat=i.lat,
                    lon=i.lon,
                    intersection=i.id,
                    report_interval_s=heartbeat_s,
                    attributes={"main_street": i.main_street, "cross_street": i.cross_street},
                )
            )
            for a in APPROACHES:
                if a not in i.lanes:
                    continue
                street = i.cross_street if a in ("n", "s") else i.main_street
                dlat, dlon = {"n": (1, 0), "s": (-1, 0), "e": (0, 1), "w": (0, -1)}[a]
                out.append(
                    Device(
                        id=i.camera_id(a),
                        kind=DeviceKind.CAMERA,
                        name=f"Камера {i.name}, подход {_APPROACH_NAMES[a]}",
                        district=i.district,
                        address=f"{street}, подход к {i.name}",
                        lat=round(i.lat + dlat * 0.0003, 6),
                        lon=round(i.lon + dlon * 0.0005, 6),
                        intersection=i.id,
                        report_interval_s=camera_interval_s,
                        attributes={"approach": a, "lanes": i.lanes[a], "street": street},
                    )
                )
        for p in self.parking:
            out.append(
                Device(
                    id=p.id,
                    kind=DeviceKind.PARKING,
                    name=p.name,
                    district=p.district,
                    address=p.address,
                    lat=p.lat,
                    lon=p.lon,
                    report_interval_s=parking_interval_s,
                    attributes={"total_spot_number": p.total_spots, "profile": p.profile.value},
                )
            )
        for s in self.stations:
            out.append(
                Device(
                    id=s.id,
                    kind=DeviceKind.ECOLOGY,
                    name=s.name,
                    district=s.district,
                    address=s.address,
                    lat=s.lat,
                    lon=s.lon,
                    report_interval_s=ecology_interval_s,
                    attributes={"traffic_exposure": s.traffic_exposure},
                )
            )
        return tuple(out)


def topic(root: str, device: Device, leaf: str) -> str:
    """``{root}/{district}/{kind}/{device_id}/{leaf}`` as in the wire contract."""
    return f"{root}/{device.district}/{device.kind.value}/{device.id}/{leaf}"


# --- the preset: Kaluga's centre --------------------------------------------------------

_KALUGA_ROWS = (  # east-west streets, south to north
    ("kirova", "ул. Кирова"),
    ("lenina", "ул. Ленина"),
    ("marksa", "ул. Карла Маркса"),
    ("gagarina", "ул. Гагарина"),
)
_KALUGA_COLS = (  # north-south streets, west to east
    ("teatralnaya", "ул. Театральная"),
    ("pushkina", "ул. Пушкина"),
    ("moskovskaya", "ул. Московская"),
    ("suvorova", "ул. Суворова"),
)
_KALUGA_DISTRICTS = (
    District("leninsky", "Ленинский округ", DistrictProfile.BUSINESS),
    District("oktyabrsky", "Октябрьский округ", DistrictProfile.MIXED),
    District("moskovsky", "Московский округ", DistrictProfile.RESIDENTIAL),
)


def _kaluga_district(row: int, col: int) -> str:
    if col >= 2:
        return "oktyabrsky"
    return "leninsky" if row <= 1 else "moskovsky"


def preset_city() -> City:
    """Kaluga-centre-like: 16 intersections, 3 districts, 6 parking lots, 3 stations."""
    base_lat, base_lon = 54.5065, 36.2480
    weights = (1.15, 1.0, 1.05, 0.75)  # Kirova and Marksa are the busiest
    cross_weights = (0.85, 0.7, 1.0, 0.8)
    intersections = []
    for r, (rs, rn) in enumerate(_KALUGA_ROWS):
        for c, (cs, cn) in enumerate(_KALUGA_COLS):
            # The centre's streets are not a perfect grid: skew slightly, as a real map is.
            lat = base_lat + r * 0.0036 + c * 0.0004
            lon = base_lon + c * 0.0061 - r * 0.0007
            intersections.append(
                Intersection(
                    id=f"{rs}-{cs}",
                    name=f"{rn} / {cn}",
                    district=_kaluga_district(r, c),
                    lat=round(lat, 6),
                    lon=round(lon, 6),
                    row=r,
                    col=c,
                    main_street=rn,
                    cross_street=cn,
                    weight=round(math.sqrt(weights[r] * cross_weights[c]), 3),
                    lanes={"n": 1, "s": 1, "e": 2, "w": 2}
                    if r != 3
                    else {"n": 1, "s": 1, "e": 1, "w": 1},
                )
            )
    parking = (
        ParkingLot("pk-leninsky-1", "Парковка ТЦ «Европейский»", "leninsky",
                   "ул. Кирова, 1", 54.5070, 36.2515, 320, DistrictProfile.BUSINESS),
        ParkingLot("pk-leninsky-2", "Парковка у Гостиного двора", "leninsky",
                   "ул. Ленина, 74", 54.5108, 36.2540, 90, DistrictProfile.BUSINESS),
        ParkingLot("pk-oktyabrsky-1", "Парковка у площади Победы", "oktyabrsky",
                   "ул. Московская, 20", 54.5090, 36.2630, 150, DistrictProfile.BUSINESS),
        ParkingLot("pk-oktyabrsky-2", "Дворовая парковка, ул. Суворова, 121", "oktyabrsky",
                   "ул. Суворова, 121", 54.5150, 36.2660, 60, DistrictProfile.RESIDENTIAL),
        ParkingLot("pk-moskovsky-1", "Парковка ЖК «Гагаринский»", "moskovsky",
                   "ул. Гагарина, 12", 54.5170, 36.2470, 140, DistrictProfile.RESIDENTIAL),
        ParkingLot("pk-moskovsky-2", "Парковка у поликлиники", "moskovsky",
                   "ул. Карла Маркса, 9", 54.5140, 36.2500, 45, DistrictProfile.MIXED),
    )  # fmt: skip
    stations = (
        Station("eco-leninsky-1", "Пост наблюдения «Театральная»", "leninsky",
                "ул. Театральная, 13", 54.5085, 36.2490, 1.2),
        Station("eco-oktyabrsky-1", "Пост наблюдения «Московская»", "oktyabrsky",
                "ул. Московская, 55", 54.5120, 36.2620, 1.0),
        Station("eco-moskovsky-1", "Пост наблюдения «Гагарина»", "moskovsky",
                "ул. Гагарина, 3", 54.5165, 36.2455, 0.7),
    )  # fmt: skip
    return City("Калуга (центр)", _KALUGA_DISTRICTS, tuple(intersections), parking, stations)


# --- generated cities --------------------------------------------------------------------

_STREETS = (
    ("sadovaya", "ул. Садовая"), ("shkolnaya", "ул. Школьная"), ("lesnaya", "ул. Лесная"),
    ("sovetskaya", "ул. Советская"), ("mira", "ул. Мира"), ("pobedy", "ул. Победы"),
    ("zavodskaya", "ул. Заводская"), ("polevaya", "ул. Полевая"), ("lugovaya", "ул. Луговая"),
    ("molodyozhnaya", "ул. Молодёжная"), ("naberezhnaya", "ул. Набережная"),
    ("tsentralnaya", "ул. Центральная"), ("solnechnaya", "ул. Солнечная"),
    ("lermontova", "ул. Лермонтова"), ("chekhova", "ул. Чехова"), ("tolstogo", "ул. Толстого"),
    ("gorkogo", "ул. Горького"), ("kuybysheva", "ул. Куйбышева"), ("chapaeva", "ул. Чапаева"),
    ("frunze", "ул. Фрунзе"), ("zhukova", "ул. Жукова"), ("vatutina", "ул. Ватутина"),
    ("tsiolkovskogo", "ул. Циолковского"), ("koroleva", "ул. Королёва"),
    ("zelyonaya", "ул. Зелёная"), ("rechnaya", "ул. Речная"), ("stroiteley", "ул. Строителей"),
    ("oktyabrskaya", "ул. Октябрьская"), ("pervomayskaya", "ул. Первомайская"),
    ("komsomolskaya", "ул. Комсомольская"), ("pionerskaya", "ул. Пионерская"),
    ("vokzalnaya", "ул. Вокзальная"),
)  # fmt: skip
_DISTRICT_NAMES = (
    ("tsentralny", "Центральный"), ("severny", "Северный"), ("yuzhny", "Южный"),
    ("zarechny", "Заречный"), ("vostochny", "Восточный"), ("zapadny", "Западный"),
    ("promyshlenny", "Промышленный"), ("sovetsky", "Советский"), ("kirovsky", "Кировский"),
    ("pervomaysky", "Первомайский"), ("sadovy", "Садовый"), ("lesnoy", "Лесной"),
)  # fmt: skip
_PROFILES = (DistrictProfile.BUSINESS, DistrictProfile.MIXED, DistrictProfile.RESIDENTIAL)


def _street(index: int) -> tuple[str, str]:
    slug, name = _STREETS[index % len(_STREETS)]
    n = index // len(_STREETS)
    if n == 0:
        return slug, name
    return f"{slug}{n + 1}", f"{n + 1}-я {name}"


def generated_city(intersections: int, *, seed: int = 0, block: int = 5) -> City:
    """A grid city with ``intersections`` crossings; districts are ``block``×``block`` cells."""
    if intersections < 1:
        raise ValueError("a city needs at least one intersection")
    rng = random.Random(f"city:{seed}:{intersections}")
    cols = math.ceil(math.sqrt(intersections))
    rows = math.ceil(intersections / cols)
    base_lat, base_lon = 54.4800, 36.2000
    district_cols = math.ceil(cols / block)
    districts: dict[str, District] = {}
    items: list[Intersection] = []
    for k in range(intersections):
        r, c = divmod(k, cols)
        d_index = (r // block) * district_cols + c // block
        slug, dname = _DISTRICT_NAMES[d_index % len(_DISTRICT_NAMES)]
        if d_index >= len(_DISTRICT_NAMES):
            n = d_index // len(_DISTRICT_NAMES) + 1
            slug, dname = f"{slug}-{n}", f"{dname}-{n}"
        districts.setdefault(
            slug, District(slug, f"{dname} район", _PROFILES[d_index % len(_PROFILES)])
        )
        _, rname = _street(r)
        _, cname = _street(rows + c)
        items.append(
            Intersection(
                id=f"r{r:03d}c{c:03d}",
                name=f"{rname} / {cname}",
                district=slug,
                lat=round(base_lat + r * 0.004 + rng.uniform(-0.0004, 0.0004), 6),
                lon=round(base_lon + c * 0.0065 + rng.uniform(-0.0006, 0.0006), 6),
                row=r,
                col=c,
                main_street=rname,
                cross_street=cname,
                weight=round(rng.uniform(0.6, 1.2), 3),
                lanes={"n": 1, "s": 1, "e": 2, "w": 2}
                if rng.random() < 0.5
                else {"n": 1, "s": 1, "e": 1, "w": 1},
            )
        )
    parking: list[ParkingLot] = []
    stations: list[Station] = []
    for d_i, d in enumerate(districts.values()):
        members = [i for i in items if i.district == d.slug]
        lat = sum(i.lat for i in members) / len(members)
        lon = sum(i.lon for i in members) / len(members)
        anchor = members[0]
        for n, profile in enumerate((d.profile, DistrictProfile.RESIDENTIAL), start=1):
            parking.append(
                ParkingLot(
                    id=f"pk-{d.slug}-{n}",
                    name=f"Парковка {d.name}, №{n}",
                    district=d.slug,
                    address=f"{anchor.main_street}, {10 * n + d_i}",
                    lat=round(lat + 0.0008 * n, 6),
                    lon=round(lon - 0.0011 * n, 6),
                    total_spots=rng.choice((40, 60, 90, 120, 150, 200, 300)),
                    profile=profile,
                )
            )
        stations.append(
            Station(
                id=f"eco-{d.slug}-1",
                name=f"Пост наблюдения {d.name}",
                district=d.slug,
                address=f"{anchor.cross_street}, {d_i + 3}",
                lat=round(lat - 0.0009, 6),
                lon=round(lon + 0.0012, 6),
                traffic_exposure=round(rng.uniform(0.6, 1.3), 2),
            )
        )
    return City(
        f"Город на {intersections} перекрёстков",
        tuple(districts.values()),
        tuple(items),
        tuple(parking),
        tuple(stations),
    )
