"""Projected inflation and the cash rate, as known on the as-of date (nothing published later is used).

CPI for a period is published about two weeks after the period ends, so on an as-of date only the
periods that ended at least `PUBLICATION_LAG` earlier count. The projection carries the latest
year-on-year rate forward: the deflator after ``d`` days is ``(1 + rate) ** (d / 365.25)``, so real value
= nominal value / deflator. Cash earns the latest Treasury rate on or before the as-of date, compounded
the same way. Both are deterministic: over months the spread of outcomes comes from the assets.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from hpcast.data.bundled import PUBLICATION_LAG
from hpcast.invest.market import CPI_SOURCES, Market

__all__ = ["PUBLICATION_LAG", "Inflation", "cash_rate", "growth", "project_inflation"]

_PERIOD = {"MS": pd.DateOffset(months=1), "QS": pd.DateOffset(months=3)}
STALE_AFTER = pd.Timedelta(days=120)


@dataclass(frozen=True)
class Inflation:
    """The projected annual inflation rate and where it came from."""

    rate: float
    series: str
    through: pd.Timestamp  # period start of the latest CPI observation used
    note: str = ""

    def deflator(self, days: np.ndarray | float) -> np.ndarray:
        """Projected CPI ratio after ``days`` calendar days: divide nominal values by it."""
        return growth(self.rate, days)

    def to_dict(self) -> dict[str, Any]:
        return {"annual_rate": self.rate, "series": self.series, "through": self.through.date().isoformat(),
                "note": self.note}


def growth(rate: float, days: np.ndarray | float) -> np.ndarray:
    """``(1 + rate) ** (days / 365.25)``: annual compounding over calendar days."""
    return np.power(1.0 + rate, np.asarray(days, dtype=np.float64) / 365.25)


def project_inflation(market: Market, as_of: pd.Timestamp) -> Inflation:
    """Year-on-year inflation of the freshest CPI series published by ``as_of`` (ties: headline CPI)."""
    candidates = []
    for name in CPI_SOURCES:
        if name not in market.cpi:
            continue
        series = market.cpi[name]
        period = _PERIOD.get(market.cpi_freq.get(name, "MS"), pd.DateOffset(months=1))
        published = series[series.index + period + PUBLICATION_LAG <= as_of]
        if len(published) and _year_before(published) is not None:
            candidates.append((published.index[-1], -CPI_SOURCES.index(name), name, published))
    if not candidates:
        raise ValueError(f"no CPI series in the store was published a year before {as_of.date()}: "
                         "real values need one (hpcast store backfill --assets core_cpi)")
    through, _, name, published = max(candidates, key=lambda c: (c[0], c[1]))
    earlier = _year_before(published)
    assert earlier is not None
    rate = float(published.iloc[-1] / earlier - 1.0)
    note = ""
    if as_of - through > STALE_AFTER:
        note = (f"the latest {name} in the store is for {through:%Y-%m}, {(as_of - through).days // 30} months "
                f"before the as-of date: its year-on-year rate is carried forward")
    return Inflation(rate, name, through, note)


def _year_before(series: pd.Series) -> float | None:
    """The value one year before the last observation (None if the series does not reach back that far)."""
    target = series.index[-1] - pd.DateOffset(years=1)
    earlier = series[series.index <= target]
    if earlier.empty or earlier.index[-1] != target:
        return None
    return float(earlier.iloc[-1])


def cash_rate(market: Market, as_of: pd.Timestamp) -> tuple[float, pd.Timestamp]:
    """The annual cash rate (decimal) on the last quote at or before ``as_of`` and that quote's date."""
    assert market.rate is not None
    known = market.rate[market.rate.index <= as_of]
    if known.empty:
        raise ValueError(f"the cash rate ({market.rate_symbol}) starts {market.rate.index[0].date()}, "
                         f"after {as_of.date()}")
    return float(known.iloc[-1]), known.index[-1]
