"""The hygienic limits for ambient air: one table, read by every package that needs one.

СанПиН 1.2.3685-21 «Гигиенические нормативы и требования к обеспечению безопасности и
(или) безвредности для человека факторов среды обитания», table 1.1 («Предельно
допустимые концентрации (ПДК) загрязняющих веществ в атмосферном воздухе городских и
сельских поселений»), gives each substance up to three limits in mg/m³:

- ПДК м.р., the maximum single concentration, judged on a 20-minute mean;
- ПДК с.с., the daily average (for ozone the table marks it «8 час.»: an 8-hour mean);
- ПДК с.г., the annual average (a dash in the table where none is set).

The values stay here in mg/m³, as the standard states them.  Readings arrive in µg/m³
except CO (mg/m³), see :class:`~citypulse.EcologyReading`; ``*_in_unit`` gives a limit
in the reading's unit and ``*_ug`` in µg/m³.  The simulator (default exceedance levels),
the detectors (``air_quality_rule``), the dashboards (thresholds) and the report (chart
lines) all read :data:`AIR_LIMITS`; none keeps its own copy.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Final

#: The unit of the table, and of CO readings.
MG_PER_M3: Final = "mg/m³"
#: The unit of every other pollutant's readings.
UG_PER_M3: Final = "µg/m³"
_UG_PER_MG: Final = 1000.0


@dataclass(frozen=True, slots=True)
class AirLimit:
    """One pollutant's row of СанПиН 1.2.3685-21 table 1.1, limits in mg/m³.

    ``pollutant`` is the :class:`~citypulse.EcologyReading` field, ``substance`` the row's
    name in the table; ``annual`` is None where the table sets no annual limit.
    ``daily_averaging_s`` is the period of the ПДК с.с. column: a day, but 8 hours for
    ozone.  ``reading_unit`` is the unit that field's readings arrive in.
    """

    pollutant: str
    substance: str
    max_single: float
    daily: float
    annual: float | None
    reading_unit: str = UG_PER_M3
    daily_averaging_s: float = 24 * 3600.0

    def __post_init__(self) -> None:
        if self.reading_unit not in (MG_PER_M3, UG_PER_M3):
            raise ValueError(f"{self.pollutant}: unknown reading unit {self.reading_unit!r}")

    @property
    def unit_factor(self) -> float:
        """What a limit in mg/m³ is multiplied by to be in the reading's unit."""
        return _UG_PER_MG if self.reading_unit == UG_PER_M3 else 1.0

    @property
    def max_single_in_unit(self) -> float:
        """ПДК м.р. in the reading's unit."""
        return self.max_single * self.unit_factor

    @property
    def daily_in_unit(self) -> float:
        """ПДК с.с. in the reading's unit."""
        return self.daily * self.unit_factor

    @property
    def max_single_ug(self) -> float:
        """ПДК м.р. in µg/m³."""
        return self.max_single * _UG_PER_MG

    @property
    def daily_ug(self) -> float:
        """ПДК с.с. in µg/m³."""
        return self.daily * _UG_PER_MG

    @property
    def annual_ug(self) -> float | None:
        """ПДК с.г. in µg/m³, None where the table sets none."""
        return None if self.annual is None else self.annual * _UG_PER_MG


# Every value below is from СанПиН 1.2.3685-21, table 1.1, the row named in
# ``substance``, column ПДК м.р. / ПДК с.с. / ПДК с.г. (mg/m³).  Checked against a
# transcription of table 1.1 and against the list of limits in force from 01.03.2021
# that Челябинский ЦГМС (a regional hydrometeorological centre) publishes; where the
# two differ, the comment says so and the value is left unset.
AIR_LIMITS: Final[Mapping[str, AirLimit]] = MappingProxyType(
    {
        "pm25": AirLimit(
            pollutant="pm25",
            substance="Взвешенные частицы РМ2.5",
            max_single=0.16,  # table 1.1, «Взвешенные частицы РМ2.5», ПДК м.р.
            daily=0.035,  # table 1.1, «Взвешенные частицы РМ2.5», ПДК с.с.
            annual=0.025,  # table 1.1, «Взвешенные частицы РМ2.5», ПДК с.г.
        ),
        "pm10": AirLimit(
            pollutant="pm10",
            substance="Взвешенные частицы РМ10",
            max_single=0.3,  # table 1.1, «Взвешенные частицы РМ10», ПДК м.р.
            daily=0.06,  # table 1.1, «Взвешенные частицы РМ10», ПДК с.с.
            annual=0.04,  # table 1.1, «Взвешенные частицы РМ10», ПДК с.г.
        ),
        "no2": AirLimit(
            pollutant="no2",
            substance="Азота диоксид",
            max_single=0.2,  # table 1.1, «Азота диоксид», ПДК м.р.
            daily=0.1,  # table 1.1, «Азота диоксид», ПДК с.с.
            annual=0.04,  # table 1.1, «Азота диоксид», ПДК с.г.
        ),
        "so2": AirLimit(
            pollutant="so2",
            substance="Сера диоксид",
            max_single=0.5,  # table 1.1, «Сера диоксид», ПДК м.р.
            daily=0.05,  # table 1.1, «Сера диоксид», ПДК с.с.
            annual=None,  # table 1.1, «Сера диоксид», ПДК с.г.: a dash, none set
        ),
        "co": AirLimit(
            pollutant="co",
            substance="Углерода оксид",
            max_single=5.0,  # table 1.1, «Углерода оксид», ПДК м.р.
            daily=3.0,  # table 1.1, «Углерода оксид», ПДК с.с.
            annual=3.0,  # table 1.1, «Углерода оксид», ПДК с.г.
            reading_unit=MG_PER_M3,
        ),
        "o3": AirLimit(
            pollutant="o3",
            substance="Озон",
            max_single=0.16,  # table 1.1, «Озон», ПДК м.р.
            # table 1.1, «Озон», ПДК с.с. column: «0,1 (8 час.)», a maximum 8-hour mean.
            # Not 0.03: that is the daily limit of the earlier hygienic norms (ГН 2.1.6.695-98
            # and its successors), which this SanPiN replaced.
            daily=0.1,
            daily_averaging_s=8 * 3600.0,
            # ПДК с.г. unconfirmed: the transcription of table 1.1 shows a dash, the
            # Челябинский ЦГМС list 0.03.  Left unset until read in the published text;
            # nothing in citypulse judges annual means yet.
            annual=None,
        ),
    }
)
