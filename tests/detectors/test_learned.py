"""The learned seasonal detector: a level shift in a seasonal stream is flagged, a clean
seasonal stream is not, a count far above its hour's normal stands out, and nothing it
says depends on readings after the one scored."""

from __future__ import annotations

import math
import random

from detectors._learned import SeasonalStream, learned_stream, learned_views
from tests.detectors._cases import T0, views_of

STEP = 300.0
DAY = int(86400 / STEP)


def _seasonal(
    days: int, *, seed: int = 1, shift_at: int | None = None, shift: float = 0.0
) -> list[tuple[float, float]]:
    """A daily cycle of 50 ± 20 with noise of 2, every five minutes; ``shift`` added from
    reading ``shift_at`` on."""
    rng = random.Random(seed)
    out: list[tuple[float, float]] = []
    for i in range(days * DAY):
        t = T0 + STEP * i
        x = 50 + 20 * math.sin(2 * math.pi * (t % 86400) / 86400) + rng.gauss(0, 2)
        if shift_at is not None and i >= shift_at:
            x += shift
        out.append((t, x))
    return out


def test_a_level_shift_in_a_seasonal_stream_is_flagged() -> None:
    onset = 5 * DAY + DAY // 3
    det = learned_stream()
    flagged = []
    for i, (t, x) in enumerate(_seasonal(7, shift_at=onset, shift=8.0)):
        det.update(t, x)
        if det.stream.shifted:
            assert det.stream.shifted == 1
            flagged.append(i)
    # Four noise spreads: inside the day's range, so no single reading is news, but the
    # CUSUM over the learnt normal has it within the hour, and holds it, upwards, until the
    # shift has lasted ``settle`` readings: then it is the new normal, and not flagged again.
    assert flagged
    assert onset <= flagged[0] <= onset + 12
    assert flagged == list(range(flagged[0], flagged[0] + len(flagged)))
    assert len(flagged) >= 100
    assert det.stream.shifted == 0


def test_a_clean_seasonal_stream_stays_quiet() -> None:
    det = SeasonalStream(novelty=0.0)
    scores = []
    for t, x in _seasonal(10, seed=2):
        scores.append(det.update(t, x))
        assert det.shifted == 0
        assert abs(det.last_z) < 6.0
    assert max(scores) < 0.1


def test_a_count_far_above_its_hour_stands_out_where_the_day_has_seen_more() -> None:
    """A count of 40 at night is no record (the day brings 60), yet it is far above what
    this hour brings: the seasonal normal sees it, a value-set novelty alone would not."""
    rng = random.Random(3)
    det = learned_stream(counts=True)
    z_at_night = 0.0
    night = 5 * DAY + round(((3600.0 - T0) % 86400) / STEP)  # 01:00 on the sixth night
    for i in range(6 * DAY):
        t = T0 + STEP * i
        hour = (t % 86400) / 3600
        usual = 5.0 if hour < 6 else 60.0
        x = float(max(0, round(rng.gauss(usual, math.sqrt(usual)))))
        if i == night:
            x = 40.0
        det.update(t, x)
        if i == night:
            z_at_night = det.stream.last_z
            assert det.stream.last_expected < 8.0
    assert z_at_night > 8.0


def test_scores_do_not_depend_on_later_readings() -> None:
    stream = _seasonal(3, seed=4)
    cut = 2 * DAY
    changed = stream[:cut] + [(t, x + 500.0) for t, x in stream[cut:]]
    a, b = learned_stream(), learned_stream()
    sa = [a.update(t, x) for t, x in stream]
    sb = [b.update(t, x) for t, x in changed]
    assert sa[:cut] == sb[:cut]
    assert max(sb[cut:]) > max(sa[cut:])


def test_the_views_without_the_score_are_the_scored_streams_bit_for_bit() -> None:
    """The city reads only the views (learned_views); NAB scores learned_stream.  Both
    must learn the same normal: a shift, wild readings that are clipped, counts."""
    rng = random.Random(5)
    wild = [(t, x + (400.0 if rng.random() < 0.01 else 0.0)) for t, x in _seasonal(4, seed=5)]
    series = {
        False: _seasonal(6, seed=6, shift_at=4 * DAY, shift=8.0) + wild,
        True: [
            (T0 + STEP * i, float(rng.randint(0, 30) + (90 if i % 700 < 20 else 0)))
            for i in range(5 * DAY)
        ],
    }
    for counts, stream in series.items():
        scored, views = learned_stream(counts=counts), learned_views(counts=counts)
        seen = set()
        for t, x in stream:
            scored.update(t, x)
            views.update(t, x)
            assert views_of(views) == views_of(scored.stream)
            seen.add(views.shifted)
        assert seen - {0}, counts  # the series did move the views


def test_bin_statistics_are_rivers_ewmean_and_ewvar_bit_for_bit() -> None:
    # Within one hour bin, before the stream has passed through it whole, every reading
    # is learnt as it is: the bin's mean and variance must be what river computes.
    from river import stats

    s = SeasonalStream(novelty=0.0, memory=60)
    a = 2.0 / 61.0
    mean, var = stats.EWMean(a), stats.EWVar(a)
    rng = random.Random(3)
    b = s._bin(T0)
    for i in range(400):
        x = rng.choice([0.0, rng.gauss(40.0, 12.0), float(rng.randint(0, 90))])
        s.update(T0 + i, x)
        mean.update(x)
        var.update(x)
        m = s._means[b]
        assert m == mean.get()
        assert s._sq[b] - m * m == var.get()
    assert s._cnt[b] == 400
