"""The one shape every source returns: a tidy long frame plus the facts needed to model it.

A `Dataset` holds a frame with columns ``symbol, date`` followed by numeric value columns (``value`` for
single series, ``open, high, low, close, adj_close, volume`` for prices). Its invariants are checked
when it is built, so code downstream never re-checks them:

- ``date`` is a timezone-naive ``datetime64`` column, strictly increasing within each symbol
  (so there are no duplicate ``(symbol, date)`` keys);
- every value column is float64 and finite;
- ``freq`` is one of `FREQUENCIES` and ``target`` names a value column;
- ``calendar`` names the calendar of a daily series (a key of `hpcast.data.calendars.CALENDARS`) and is
  ``None`` for periodic series, whose dates continue their own anchor.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from hpcast.data.calendars import CALENDARS, Gaps, describe_anchor, find_gaps, infer_anchor, resolve_calendar
from hpcast.errors import DataError

__all__ = ["FREQUENCIES", "Dataset", "infer_frequency", "season_length"]

# pandas offset alias -> (plain words, declared seasonal period). Only monthly and quarterly data declare a
# season (12, 4); prices sampled daily or weekly have none (m = 1), as in Hyndman & Koehler (2006) and the M4
# competition: MASE then scales by the in-sample one-step naive error, and there is no seasonal naive.
FREQUENCIES: dict[str, tuple[str, int]] = {
    "B": ("business days", 1),
    "D": ("calendar days", 1),
    "3D": ("every 3 days", 1),
    "W": ("weekly", 1),
    "MS": ("monthly (period start)", 12),
    "ME": ("monthly (period end)", 12),
    "QS": ("quarterly (period start)", 4),
    "QE": ("quarterly (period end)", 4),
    "YS": ("yearly", 1),
}


def season_length(freq: str) -> int:
    """Declared seasonal period of a frequency alias: 12 monthly, 4 quarterly, 1 (none) otherwise."""
    if freq not in FREQUENCIES:
        raise DataError(f"freq ({freq!r}) must be one of {sorted(FREQUENCIES)}")
    return FREQUENCIES[freq][1]


def infer_frequency(dates: pd.DatetimeIndex | pd.Series) -> str:
    """Name the sampling frequency of sorted dates from their median spacing.

    Business days are told from calendar days by the absence of weekend dates; months and quarters
    by whether dates fall on the first or the last day of the period.
    """
    dates = pd.DatetimeIndex(dates)
    if len(dates) < 3:
        raise DataError(f"need at least 3 dates to infer a frequency, got {len(dates)}")
    gap = float(np.median(np.diff(dates.as_unit("ns").asi8)) / 86_400e9)  # pandas 3 may infer "s"
    if gap <= 1.5:
        return "D" if (dates.day_of_week >= 5).any() else "B"
    if 2.5 <= gap <= 3.5:
        return "3D"
    if 6 <= gap <= 8:
        return "W"
    period_end = bool(dates.is_month_end.all())
    if 27 <= gap <= 32:
        return "ME" if period_end else "MS"
    if 88 <= gap <= 93:
        return "QE" if period_end else "QS"
    if 360 <= gap <= 370:
        return "YS"
    raise DataError(f"could not infer a frequency: median spacing is {gap:.1f} days "
                    "(supported: daily, business daily, every 3 days, weekly, monthly, quarterly, yearly)")


@dataclass(frozen=True)
class Dataset:
    """A validated series (or panel) in the tidy long shape; see the module docstring for invariants.

    Attributes:
        name: short name, e.g. ``sp500`` or the CSV's file stem.
        frame: columns ``symbol, date, <value columns>``.
        freq: pandas offset alias of the sampling frequency (a key of `FREQUENCIES`).
        target: the value column modelled by default (``adj_close`` for prices, ``value`` otherwise).
        source: where it came from, in words (bundled file, CSV path, Yahoo ticker).
        notes: anything a user should know about how it was loaded (e.g. dropped empty rows).
        calendar: for daily series, the calendar whose sessions the dates are (``NYSE``, ``London``, ...);
            default ``weekdays`` for business days, ``every-day`` for daily data; ``None`` otherwise.

    Example:
        >>> from hpcast.data import load_bundled
        >>> load_bundled("air_passengers").series().iloc[:2].tolist()
        [112.0, 118.0]
    """

    name: str
    frame: pd.DataFrame
    freq: str
    target: str
    source: str
    notes: tuple[str, ...] = field(default=())
    calendar: str | None = None

    def __post_init__(self) -> None:
        frame = self.frame
        missing = [c for c in ("symbol", "date") if c not in frame.columns]
        if missing:
            raise DataError(f"{self.name}: frame lacks key column(s) {missing}; columns are {list(frame.columns)}")
        if not pd.api.types.is_datetime64_dtype(frame["date"]) or getattr(frame["date"].dt, "tz", None):
            raise DataError(f"{self.name}: column 'date' must be timezone-naive datetime64, "
                            f"got {frame['date'].dtype}")
        if self.target not in self.value_columns:
            raise DataError(f"{self.name}: target ({self.target!r}) must be one of {self.value_columns}")
        season_length(self.freq)
        object.__setattr__(self, "calendar", resolve_calendar(self.calendar, self.freq))  # frozen: set once, here
        for column in self.value_columns:
            values = frame[column]
            if values.dtype != np.float64:
                raise DataError(f"{self.name}: column {column!r} must be float64, got {values.dtype}")
            if not np.isfinite(values.to_numpy()).all():
                raise DataError(f"{self.name}: column {column!r} has missing or infinite values")
        for symbol, dates in frame.groupby("symbol", sort=False)["date"]:
            if not dates.is_monotonic_increasing or dates.duplicated().any():
                raise DataError(f"{self.name}: dates of symbol {symbol!r} must be strictly increasing")

    @property
    def value_columns(self) -> list[str]:
        return [c for c in self.frame.columns if c not in ("symbol", "date")]

    @property
    def symbols(self) -> list[str]:
        return list(self.frame["symbol"].unique())

    def series(self, column: str | None = None, symbol: str | None = None) -> pd.Series:
        """One column of one symbol as a float series indexed by date (what the models consume)."""
        column = column or self.target
        if column not in self.value_columns:
            raise DataError(f"column ({column!r}) must be one of {self.value_columns}")
        symbols = self.symbols
        symbol = symbol or symbols[0]
        if symbol not in symbols:
            raise DataError(f"symbol ({symbol!r}) must be one of {symbols}")
        rows = self.frame[self.frame["symbol"] == symbol]
        series = pd.Series(rows[column].to_numpy(), index=pd.DatetimeIndex(rows["date"]), name=column)
        series.index.name = "date"
        return series

    def gaps(self, symbol: str | None = None) -> Gaps:
        """What one symbol's dates lack against the calendar (daily) or the anchor (periodic) they follow."""
        return find_gaps(self.series(symbol=symbol).index, self.freq, self.calendar)

    def _calendar_words(self) -> str:
        if self.calendar is not None:
            return f"{self.calendar} ({CALENDARS[self.calendar].description})"
        anchor = describe_anchor(infer_anchor(self.series().index, self.freq))
        return f"none (dates continue their own anchor: {anchor})"

    def summary(self) -> dict[str, object]:
        """Facts for `hpcast data show`: range, frequency, calendar, rows, columns, source."""
        dates = self.frame["date"]
        return {
            "name": self.name,
            "symbols": ", ".join(self.symbols),
            "rows": len(self.frame),
            "from": dates.min().date().isoformat(),
            "to": dates.max().date().isoformat(),
            "frequency": f"{self.freq} ({FREQUENCIES[self.freq][0]})",
            "calendar": self._calendar_words(),
            "columns": ", ".join(self.value_columns),
            "target": self.target,
            "source": self.source,
        }
