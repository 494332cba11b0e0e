"""The tension evaluation's scorer on hand-made surges, points and weeks."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from lab._eval_tension import Cell, Point, Result, TruthSurge, Week, band_name, score

T0 = datetime(2026, 11, 2, tzinfo=UTC)
ROADS = ("service", "road-damage", "Ленинский округ")
ROADS_SECTOR = ("sector", "Дороги", "Ленинский округ")
HOUSING = ("service", "housing", "Ленинский округ")
CELLS = {
    ROADS: Cell("service", "road-damage", "Ленинский округ", 60.0),
    ROADS_SECTOR: Cell("sector", "Дороги", "Ленинский округ", 70.0),
    HOUSING: Cell("service", "housing", "Ленинский округ", 8.0),
}


def h(hours: float) -> datetime:
    return T0 + timedelta(hours=hours)


def test_a_surge_found_in_time_late_or_not_at_all_and_false_points_counted() -> None:
    weeks = [Week(T0, surges=True), Week(T0 + timedelta(days=7), surges=False)]
    truth = [
        TruthSurge("a", (ROADS, ROADS_SECTOR), h(10), h(34), 60.0),  # found at +4 h
        TruthSurge("b", (ROADS, ROADS_SECTOR), h(72), h(96), 60.0),  # found at +9 h: late
        TruthSurge("c", (HOUSING,), h(100), h(124), 8.0),  # missed, small cell
    ]
    points = [
        Point(1, "surge", ROADS_SECTOR, h(9), h(40), h(14)),
        Point(2, "surge", ROADS, h(73), None, h(81)),
        Point(3, "surge", ROADS, h(140), h(150), h(141)),  # no surge then: false
        Point(4, "cluster", None, h(24 * 8), None, h(24 * 8)),  # surge-free week
        Point(5, "surge", ROADS, h(24 * 9), None, h(24 * 9)),  # surge-free week
    ]
    result = Result()
    score(result, truth, points, weeks, CELLS, within=timedelta(hours=6))
    assert (result.gated.surges, result.gated.found, result.gated.late) == (2, 1, 1)
    assert result.gated.delays_h == [4.0]
    assert (result.bands["0-10"].surges, result.bands["0-10"].found) == (1, 0)
    # Surge week, gated cells: points 1, 2 explained, 3 not.
    assert (result.surge_points, result.explained) == (3, 2)
    assert result.free_points == {"cluster": 1, "surge": 1}
    assert result.free_cell_weeks == 3
    assert round(result.false_per_100_cell_weeks, 1) == 66.7


def test_bands_cover_every_rate() -> None:
    assert [band_name(x) for x in (0, 9.9, 10, 20, 55, 100, 500)] == [
        "0-10",
        "0-10",
        "10-20",
        "20-50",
        "50-100",
        "100+",
        "100+",
    ]
