"""Which dates a series expects: the calendar of a daily series, the anchor of a periodic one.

Forecast dates continue these, and the dates a series lacks against them are reported as gaps.

- **Daily series** (freq ``B`` or ``D``) are dated on the sessions of a calendar (`CALENDARS`): an
  exchange's, with its holidays and one-off closures (``NYSE``, ``London``, from the maintained
  ``exchange-calendars`` library), Monday to Friday (``weekdays``), or every day (``every-day``, crypto).
- **Periodic series** (every 3 days, weekly, monthly, quarterly, yearly) keep an anchor inferred from
  their own dates (`infer_anchor`): Fridays, the 15th, month ends, quarters ending in November. pandas'
  bare aliases would move them: ``W`` means Sundays and ``MS`` the 1st.
"""

from __future__ import annotations

import functools
import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd

from hpcast.errors import DataError

__all__ = ["CALENDARS", "DAILY", "Calendar", "Gaps", "describe_anchor", "find_gaps", "future_dates",
           "infer_anchor", "resolve_calendar"]

DAILY = ("B", "D")  # the frequencies whose dates are a calendar's sessions


@dataclass(frozen=True)
class Calendar:
    """A calendar users can name: what it is, and its exchange-calendars code when it is an exchange's."""

    description: str
    exchange: str | None = None
    units: tuple[str, str, str] = ("sessions", "session", "sessions")  # in notes: all, one, many


CALENDARS: dict[str, Calendar] = {
    "NYSE": Calendar("New York Stock Exchange sessions, from exchange-calendars XNYS", "XNYS",
                     ("NYSE sessions", "session", "sessions")),
    "London": Calendar("London Stock Exchange sessions (England's bank holidays, as the LBMA gold price), "
                       "from exchange-calendars XLON", "XLON", ("London sessions", "session", "sessions")),
    "weekdays": Calendar("Monday to Friday, no holidays", None, ("weekdays", "weekday", "weekdays")),
    "every-day": Calendar("every calendar day, weekends included", None, ("days", "day", "days")),
}

# Periodic frequencies: months per step (0: a step of days or weeks) and how a gap is counted.
_MONTHS = {"3D": 0, "W": 0, "MS": 1, "ME": 1, "QS": 3, "QE": 3, "YS": 12}
_MONTHLY, _QUARTERLY = ("months", "month", "months"), ("quarters", "quarter", "quarters")
_PERIOD_UNITS = {"3D": ("3-day steps", "step", "steps"), "W": ("weeks", "week", "weeks"), "MS": _MONTHLY,
                 "ME": _MONTHLY, "QS": _QUARTERLY, "QE": _QUARTERLY, "YS": ("years", "year", "years")}


def resolve_calendar(name: str | None, freq: str) -> str | None:
    """The calendar a ``freq`` series is dated on: ``name`` as spelled in `CALENDARS` (any case accepted),
    or by default ``weekdays`` for business days and ``every-day`` for daily data; ``None`` for periodic data.

    Example:
        >>> resolve_calendar("nyse", "B"), resolve_calendar(None, "D"), resolve_calendar(None, "MS")
        ('NYSE', 'every-day', None)
    """
    if freq not in DAILY:
        if name is not None:
            raise DataError(f"calendar ({name!r}) applies only to daily series (freq 'B' or 'D'); this series is "
                            f"{freq!r}, whose dates continue their own anchor")
        return None
    if name is None:
        return "weekdays" if freq == "B" else "every-day"
    for known in CALENDARS:
        if known.lower() == name.lower():
            return known
    raise DataError(f"calendar ({name!r}) must be one of: {', '.join(CALENDARS)}")


def _most_common(values: np.ndarray) -> int:
    return int(np.bincount(np.asarray(values)).argmax())


def infer_anchor(dates: pd.DatetimeIndex | pd.Series, freq: str) -> pd.DateOffset:
    """The offset that steps a periodic series from one date to the next, as its dates show it.

    Weekly: the most common weekday (``W-FRI``). Monthly, quarterly, yearly: period ends when every date
    is a month end (``ME``, ``QE-DEC``, ``QE-NOV``, ``YE-DEC``), period starts when every date is a 1st
    (``MS``, ``QS-JAN``, ``YS-JUL``), else the most common day of the month (a day past a month's end
    means its last day). Every 3 days: 3 days.

    Example:
        >>> infer_anchor(pd.date_range("2018-01-05", periods=5, freq="W-FRI"), "W").freqstr
        'W-FRI'
    """
    if freq not in _MONTHS:
        raise DataError(f"freq ({freq!r}) must be one of {sorted(_MONTHS)} to have an anchor "
                        f"(daily series follow a calendar)")
    dates = pd.DatetimeIndex(dates)
    if freq == "3D":
        return pd.offsets.Day(3)
    if freq == "W":
        return pd.offsets.Week(weekday=_most_common(dates.day_of_week))
    months, month = _MONTHS[freq], dates[-1].month
    if dates.is_month_end.all():
        ends = {1: pd.offsets.MonthEnd(), 3: pd.offsets.QuarterEnd(startingMonth=(month - 1) % 3 + 10),
                12: pd.offsets.YearEnd(month=month)}
        return ends[months]
    if (dates.day == 1).all():
        starts = {1: pd.offsets.MonthBegin(), 3: pd.offsets.QuarterBegin(startingMonth=(month - 1) % 3 + 1),
                  12: pd.offsets.YearBegin(month=month)}
        return starts[months]
    return pd.DateOffset(months=months, day=_most_common(dates.day))


def describe_anchor(anchor: pd.DateOffset) -> str:
    """A pandas alias (``W-FRI``, ``QE-DEC``), or words for the day-of-month anchors pandas has no alias for."""
    if type(anchor) is pd.DateOffset:
        months, day = anchor.kwds["months"], anchor.kwds["day"]
        return f"monthly on day {day}" if months == 1 else f"every {months} months on day {day}"
    return anchor.freqstr


@functools.lru_cache(maxsize=16)
def _exchange_sessions(code: str, first_year: int, last_year: int) -> pd.DatetimeIndex:
    import exchange_calendars  # ~0.4 s: imported only when an exchange calendar is used

    with warnings.catch_warnings():  # exchange-calendars 4.13's own use of Series.values, deprecated in pandas 3.1
        warnings.filterwarnings("ignore", message="Series.values returning an ndarray that drops timezone")
        calendar = exchange_calendars.get_calendar(code, start=f"{first_year}-01-01", end=f"{last_year}-12-31")
    return pd.DatetimeIndex(calendar.sessions).as_unit("ns")


def _sessions(calendar: str, start: pd.Timestamp, end: pd.Timestamp) -> pd.DatetimeIndex:
    """The sessions of ``calendar`` from ``start`` to ``end``, both included."""
    code = CALENDARS[calendar].exchange
    if code is None:
        return pd.date_range(start, end, freq="B" if calendar == "weekdays" else "D").as_unit("ns")
    sessions = _exchange_sessions(code, start.year, end.year)  # whole years, so a backtest reuses one build
    return sessions[(sessions >= start) & (sessions <= end)]


def future_dates(dates: pd.DatetimeIndex | pd.Series, freq: str, steps: int,
                 calendar: str | None = None) -> pd.DatetimeIndex:
    """The ``steps`` dates after the last of ``dates``: the next sessions of ``calendar`` for a daily series
    (default as in `resolve_calendar`), else the next dates on the series' own anchor.

    Example:
        >>> future_dates(pd.bdate_range("2018-12-24", "2018-12-31"), "B", 2, "NYSE").date.tolist()
        [datetime.date(2019, 1, 2), datetime.date(2019, 1, 3)]
    """
    dates = pd.DatetimeIndex(dates)
    last = dates[-1]
    if freq in DAILY:
        name = resolve_calendar(calendar, freq)
        assert name is not None
        ahead = _sessions(name, last + pd.Timedelta(days=1), last + pd.Timedelta(days=2 * steps + 14))
        return ahead[:steps]
    resolve_calendar(calendar, freq)  # a calendar given for periodic data is an error, not ignored
    anchor = infer_anchor(dates, freq)
    base = anchor.rollforward(last)  # a date off its anchor (a Thursday close) counts as its period's
    return pd.DatetimeIndex([base + anchor * step for step in range(1, steps + 1)]).as_unit("ns")


@dataclass(frozen=True)
class Gaps:
    """What a series lacks against the dates its calendar (or anchor) expects between its first and last date.

    Attributes:
        missing: expected dates (sessions, weeks, months, ...) with no row.
        largest: the longest run of consecutive missing ones.
        after: the last date present before that run (``None`` when the run opens the series).
        units: how the expected dates are called: all (``NYSE sessions``), one, many.
        off_calendar: dates present that the calendar does not expect (a row on an exchange holiday).
        first_off: the first of those.
    """

    missing: int
    largest: int
    after: pd.Timestamp | None
    units: tuple[str, str, str]
    off_calendar: int = 0
    first_off: pd.Timestamp | None = None

    def note(self) -> str | None:
        """One line for ``Dataset.notes``, or ``None`` when nothing is missing or out of place."""
        every, one, many = self.units
        parts = []
        if self.missing:
            where = f"after {self.after.date()}" if self.after is not None else "at the start"
            parts.append(f"{self.missing} expected {every} missing (largest gap: {self.largest} "
                         f"{one if self.largest == 1 else many}, {where})")
        if self.off_calendar:
            assert self.first_off is not None
            parts.append(f"{self.off_calendar} dates are not {every} (first: {self.first_off.date()})")
        return "; ".join(parts) or None


def _missing_runs(present: np.ndarray) -> tuple[int, int, int]:
    """Missing count, longest run of ``False`` and the index just before that run (-1 at the start)."""
    missing = int((~present).sum())
    if not missing:
        return 0, 0, -1
    edges = np.diff(np.concatenate([[1], present.astype(np.int8), [1]]))
    starts, ends = np.flatnonzero(edges == -1), np.flatnonzero(edges == 1)
    longest = int(np.argmax(ends - starts))
    return missing, int(ends[longest] - starts[longest]), int(starts[longest]) - 1


def _period_numbers(dates: pd.DatetimeIndex, freq: str) -> np.ndarray:
    """Consecutive integers for consecutive periods (weeks ending on the anchor's day, months, ...)."""
    if freq == "3D":
        return np.asarray((dates - dates[0]).days) // 3
    period = infer_anchor(dates, "W").freqstr if freq == "W" else {1: "M", 3: "Q", 12: "Y"}[_MONTHS[freq]]
    return dates.to_period(period).asi8


def find_gaps(dates: pd.DatetimeIndex | pd.Series, freq: str, calendar: str | None = None) -> Gaps:
    """Count the dates ``calendar`` (daily series) or the anchor (periodic series) expects that ``dates`` lack.

    Example:
        >>> find_gaps(pd.DatetimeIndex(["2018-11-21", "2018-11-23"]), "B", "NYSE").missing  # Thanksgiving
        0
    """
    dates = pd.DatetimeIndex(dates).as_unit("ns")
    if freq in DAILY:
        name = resolve_calendar(calendar, freq)
        assert name is not None
        expected = _sessions(name, dates[0], dates[-1])
        missing, largest, before = _missing_runs(expected.isin(dates))
        off = dates[~dates.isin(expected)]
        return Gaps(missing, largest, expected[before] if missing and before >= 0 else None,
                    CALENDARS[name].units, len(off), off[0] if len(off) else None)
    resolve_calendar(calendar, freq)
    numbers = _period_numbers(dates, freq)
    span = np.arange(numbers[0], numbers[-1] + 1)
    missing, largest, before = _missing_runs(np.isin(span, numbers))
    after = dates[np.searchsorted(numbers, span[before], side="right") - 1] if missing and before >= 0 else None
    return Gaps(missing, largest, after, _PERIOD_UNITS[freq])
