"""The simulated city: districts, intersections on a street grid, parking lots, stations.

Two builders: :func:`preset_city` (a compact layout modelled on Kaluga's centre, around
54.51 N 36.26 E) and :func:`generated_city` (a grid of any size with real-looking Russian
street names; the mix of device kinds per intersection and district are its
parameters).  :func:`large_city` is the generated grid at the size of a real city's
network (10,075 devices, over 5,000 readings per second); :data:`CITIES` names the
presets for ``--city``.  Intersections sit on a grid of streets, so "upstream" for
congestion is simply the neighbouring intersection along either street.
"""

from __future__ import annotations

import enum
import math
import random
from collections.abc import Callable, Mapping, Sequence
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
    """A city's layout, with how often its devices report (``intervals``, the default for
    a run) and which kinds sit behind gateways that batch their readings: ``gateway_s``
    maps a kind to the gateway's window in seconds (a kind not named sends every report
    alone)."""

    name: str
    districts: tuple[District, ...]
    intersections: tuple[Intersection, ...]
    parking: tuple[ParkingLot, ...]
    stations: tuple[Station, ...]
    intervals: Intervals = field(default_factory=Intervals)
    gateway_s: Mapping[DeviceKind, float] = field(default_factory=dict)
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

    def report_interval(self, kind: DeviceKind, intervals: Intervals | None = None) -> float:
        """How often a device's data arrives: its interval, or its gateway's window if longer
        (what the registry records, so that silence is judged against the batches)."""
        return max((intervals or self.intervals).of(kind), self.gateway_s.get(kind, 0.0))

    def devices(self, intervals: Intervals | None = None) -> tuple[Device, ...]:
        """Every field device in a stable order: per intersection, then lots, then stations.

        ``intervals`` defaults to the city's own."""
        iv = intervals or self.intervals
        heartbeat_s = self.report_interval(DeviceKind.TRAFFIC_LIGHT, iv)
        camera_interval_s = self.report_interval(DeviceKind.CAMERA, iv)
        parking_interval_s = self.report_interval(DeviceKind.PARKING, iv)
        ecology_interval_s = self.report_interval(DeviceKind.ECOLOGY, iv)
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


def generated_city(
    intersections: int,
    *,
    seed: int = 0,
    block: int = 5,
    cameras: Sequence[str] = APPROACHES,
    parking: int = 2,
    stations: int = 1,
    intervals: Intervals | None = None,
    gateway_s: Mapping[DeviceKind, float] | None = None,
    name: str | None = None,
) -> City:
    """A grid city with ``intersections`` crossings; districts are ``block``×``block`` cells.

    The mix of devices: every intersection has a signal controller and a camera on each
    approach in ``cameras`` (a subset of ``n``, ``e``, ``s``, ``w``; ``e`` and ``w`` lie on
    the main street, with one or two lanes, the others one); every district has
    ``parking`` lots and ``stations`` ecology stations.  The first two lots and the first
    station stand beside the district's centre, the others at its intersections in turn.
    ``intervals`` and ``gateway_s`` are the city's own (see :class:`City`).  The defaults
    build what they always did, device for device.
    """
    if intersections < 1:
        raise ValueError("a city needs at least one intersection")
    if block < 1 or parking < 0 or stations < 0:
        raise ValueError("block must be positive, parking and stations not negative")
    unknown = set(cameras) - set(APPROACHES)
    if unknown:
        raise ValueError(f"camera approaches must be among {APPROACHES}, not {sorted(unknown)}")
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
        # Drawn in this order, so that the defaults keep every city they always built.
        lat = round(base_lat + r * 0.004 + rng.uniform(-0.0004, 0.0004), 6)
        lon = round(base_lon + c * 0.0065 + rng.uniform(-0.0006, 0.0006), 6)
        weight = round(rng.uniform(0.6, 1.2), 3)
        main = 2 if rng.random() < 0.5 else 1
        lanes = {"n": 1, "s": 1, "e": main, "w": main}
        items.append(
            Intersection(
                id=f"r{r:03d}c{c:03d}",
                name=f"{rname} / {cname}",
                district=slug,
                lat=lat,
                lon=lon,
                row=r,
                col=c,
                main_street=rname,
                cross_street=cname,
                weight=weight,
                lanes={a: n for a, n in lanes.items() if a in cameras},
            )
        )
    lots: list[ParkingLot] = []
    posts: list[Station] = []
    for d_i, d in enumerate(districts.values()):
        members = [i for i in items if i.district == d.slug]
        more_lots, more_posts = _district_sites(d, d_i, members, parking, stations, rng)
        lots += more_lots
        posts += more_posts
    return City(
        name or f"Город на {intersections} перекрёстков",
        tuple(districts.values()),
        tuple(items),
        tuple(lots),
        tuple(posts),
        intervals or Intervals(),
        dict(gateway_s or {}),
    )


_CORNERS = ((1, 1), (-1, 1), (-1, -1), (1, -1))  # NE, SE, SW, NW of a crossing


def _centre(members: Sequence[Intersection]) -> tuple[float, float]:
    return (
        sum(i.lat for i in members) / len(members),
        sum(i.lon for i in members) / len(members),
    )


def _site(members: Sequence[Intersection], k: int, count: int) -> tuple[float, float, Intersection]:
    """The ``k``-th of ``count`` sites round a district's crossings, a corner further each
    time round: (lat, lon, the crossing)."""
    j = members[k * len(members) // count]
    dlat, dlon = _CORNERS[k % 4]
    return round(j.lat + dlat * 0.0006, 6), round(j.lon + dlon * 0.0009, 6), j


def _district_sites(
    d: District,
    d_i: int,
    members: Sequence[Intersection],
    parking: int,
    stations: int,
    rng: random.Random,
) -> tuple[list[ParkingLot], list[Station]]:
    """A district's lots (its own profile and residential ones by turns) and stations."""
    lat, lon = _centre(members)
    lots: list[ParkingLot] = []
    for n in range(1, parking + 1):
        if n <= 2:
            at = (round(lat + 0.0008 * n, 6), round(lon - 0.0011 * n, 6), members[0])
        else:
            at = _site(members, n - 3, parking - 2)
        spots = rng.choice((40, 60, 90, 120, 150, 200, 300))
        profile = d.profile if n % 2 else DistrictProfile.RESIDENTIAL
        address = f"{at[2].main_street}, {10 * n + d_i}"
        name = f"Парковка {d.name}, №{n}"
        lots.append(ParkingLot(f"pk-{d.slug}-{n}", name, d.slug, address, *at[:2], spots, profile))
    posts: list[Station] = []
    for n in range(1, stations + 1):
        if n == 1:
            at, name = (round(lat - 0.0009, 6), round(lon + 0.0012, 6), members[0]), ""
        else:
            at, name = _site(members, n - 1, stations), f", №{n}"
        address = f"{at[2].cross_street}, {d_i + 3 if n == 1 else 2 * n + 1}"
        exposure = round(rng.uniform(0.6, 1.3), 2)
        name = f"Пост наблюдения {d.name}{name}"
        posts.append(Station(f"eco-{d.slug}-{n}", name, d.slug, address, *at[:2], exposure))
    return lots, posts


# --- the large city ------------------------------------------------------------------------

#: How often the large city's devices report: controllers their state every second (as
#: Hamburg's open traffic-light feed does) and every phase change; cameras every 2 s per
#: lane; parking lots every 30 s; ecology stations every minute.
LARGE_INTERVALS = Intervals(camera_s=2.0, parking_s=30.0, ecology_s=60.0, heartbeat_s=1.0)
#: Cameras and parking lots sit behind gateways that send each device's readings as one
#: batch per window (10 s and 5 min); controllers and ecology stations publish alone.
LARGE_GATEWAY_S: Mapping[DeviceKind, float] = {DeviceKind.CAMERA: 10.0, DeviceKind.PARKING: 300.0}


def large_city(*, seed: int = 1, intersections: int = 2025) -> City:
    """A real city's network on the generated grid: 2,025 intersections (45 × 45) in 25
    districts of 9 × 9; a controller at each and cameras on the main street's two
    approaches (4,050); 140 parking lots and 20 ecology stations per district (3,500 and
    500): 10,075 devices, about 5,200 readings per second (see ``docs/simulator.md``).
    Fewer ``intersections`` give the same mix and rates on a smaller grid (for tests)."""
    return generated_city(
        intersections,
        seed=seed,
        block=9,
        cameras=("e", "w"),
        parking=140,
        stations=20,
        intervals=LARGE_INTERVALS,
        gateway_s=LARGE_GATEWAY_S,
        name=f"Большой город ({intersections} перекрёстков)",
    )


#: The named cities of ``citypulse simulate --city``; each builder takes the run's seed.
CITIES: Mapping[str, Callable[[int], City]] = {
    "kaluga": lambda seed: preset_city(),
    "large": lambda seed: large_city(seed=seed),
}
