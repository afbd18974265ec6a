"""Known-future calendar features: what the date and the exchange calendar fix in advance.

A model may see these over the forecast horizon, because they are known before the prices are. Each row
is a pure function of its own date (and the calendar): the same date gives the same row whether it lies
inside a history or among `hpcast.data.calendars.future_dates`, and no other date in the call changes it.

Features per frequency (`calendar_feature_names`):

- **Daily** (``B``, ``D``): day of week as sin/cos of 2π·weekday/7 (Monday = 0), month of year as sin/cos
  of 2π·(month − 1)/12, and sessions to the next holiday (below).
- **Every 3 days, weekly, monthly** (``3D``, ``W``, ``MS``, ``ME``): month of year as sin/cos.
- **Quarterly** (``QS``, ``QE``): calendar quarter as sin/cos of 2π·(quarter − 1)/4.
- **Yearly** (``YS``): none (K = 0); a yearly date has no position within a cycle to tell.

*Sessions to the next holiday.* A holiday is a weekday that is not a session of the calendar (an exchange
holiday or one-off closure; weekends never count). The value is the number of sessions strictly after
the date and strictly before the first holiday strictly after the date, capped at 5 and divided by 5:
on NYSE, Friday 2018-12-21 gives 1 session (Monday 24th) before Christmas, so 0.2; the 24th itself gives
0.0; 1.0 means no holiday within the next 5 sessions. ``weekdays`` and ``every-day`` have no holidays, so
their value is always 1.0. Exchange calendars are built from their holiday rules for any years asked,
so future dates past the data (and past exchange-calendars' default end) work; one-off closures that
are not yet announced (a day of mourning) cannot be known, for any method.

Weekly series carry no calendar (a `Dataset`'s periodic series have ``calendar = None``), so there is
no exchange whose holidays a week could be flagged with; ``W`` gets only the month.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from hpcast.data.calendars import DAILY, _sessions, resolve_calendar
from hpcast.data.frame import FREQUENCIES
from hpcast.errors import DataError

__all__ = ["calendar_feature_names", "calendar_features"]

HOLIDAY_CAP = 5  # sessions; beyond a week ahead a holiday no longer changes how a session trades
_DAY_OF_WEEK = ("day_of_week_sin", "day_of_week_cos")
_MONTH = ("month_sin", "month_cos")
_QUARTER = ("quarter_sin", "quarter_cos")
_NAMES: dict[str, tuple[str, ...]] = {
    "B": (*_DAY_OF_WEEK, *_MONTH, "sessions_to_next_holiday"),
    "D": (*_DAY_OF_WEEK, *_MONTH, "sessions_to_next_holiday"),
    "3D": _MONTH, "W": _MONTH, "MS": _MONTH, "ME": _MONTH,
    "QS": _QUARTER, "QE": _QUARTER,
    "YS": (),
}
assert set(_NAMES) == set(FREQUENCIES)


def calendar_feature_names(freq: str) -> tuple[str, ...]:
    """The names of `calendar_features`' columns for ``freq``, in order (fixed per frequency).

    Example:
        >>> calendar_feature_names("MS")
        ('month_sin', 'month_cos')
    """
    if freq not in _NAMES:
        raise DataError(f"freq ({freq!r}) must be one of {sorted(_NAMES)}")
    return _NAMES[freq]


def _cycle(position: np.ndarray, period: int) -> list[np.ndarray]:
    """sin and cos of 2π·position/period: neighbours on the cycle (December, January) stay neighbours."""
    angle = 2 * np.pi * position / period
    return [np.sin(angle), np.cos(angle)]


def _sessions_to_next_holiday(dates: pd.DatetimeIndex, calendar: str) -> np.ndarray:
    """Sessions strictly between each date and the first holiday after it, capped at `HOLIDAY_CAP`."""
    days = dates.normalize().as_unit("ns")
    # The next HOLIDAY_CAP weekdays after any date lie within 7 days of it: a holiday further out than
    # that cannot lower the capped count, so the sessions up to the last date + 7 days decide every row.
    start, end = days.min() + pd.Timedelta(days=1), days.max() + pd.Timedelta(days=7)
    weekdays = pd.bdate_range(start, end).as_unit("ns")
    holidays = weekdays[~weekdays.isin(_sessions(calendar, start, end))].to_numpy()
    after = days.to_numpy()
    next_index = np.searchsorted(holidays, after, side="right")  # first holiday strictly after each date
    found = next_index < len(holidays)
    counts = np.full(len(days), HOLIDAY_CAP, dtype=np.int64)
    # Every weekday before the first holiday is a session, so sessions between = weekdays between.
    counts[found] = np.busday_count((after[found] + np.timedelta64(1, "D")).astype("datetime64[D]"),
                                    holidays[next_index[found]].astype("datetime64[D]"))
    return np.minimum(counts, HOLIDAY_CAP) / HOLIDAY_CAP


def calendar_features(dates: pd.DatetimeIndex, freq: str, calendar: str | None = None) -> np.ndarray:
    """The known-future calendar features of each date, columns named by `calendar_feature_names(freq)`.

    Args:
        dates: the dates, timezone-naive (history or future dates alike; any order, repeats allowed).
        freq: the series' frequency, one of `hpcast.data.FREQUENCIES`.
        calendar: for daily series, a calendar of `hpcast.data.calendars.CALENDARS` (any case; default as
            in `resolve_calendar`: ``weekdays`` for ``B``, ``every-day`` for ``D``); ``None`` for periodic
            series, whose dates have no calendar.

    Returns:
        float64 array of shape (n, K), K = ``len(calendar_feature_names(freq))`` (0 for ``YS``).

    Raises:
        DataError: unknown ``freq`` or ``calendar``, a calendar for a periodic series, timezone-aware dates.

    Example:
        >>> row = calendar_features(pd.DatetimeIndex(["2018-12-21"]), "B", "NYSE")[0]  # a Friday in December
        >>> dict(zip(calendar_feature_names("B"), row.round(3).tolist()))  # doctest: +NORMALIZE_WHITESPACE
        {'day_of_week_sin': -0.434, 'day_of_week_cos': -0.901, 'month_sin': -0.5, 'month_cos': 0.866,
         'sessions_to_next_holiday': 0.2}
    """
    names = calendar_feature_names(freq)
    name = resolve_calendar(calendar, freq)  # also refuses a calendar for periodic data
    dates = pd.DatetimeIndex(dates)
    if dates.tz is not None:
        raise DataError(f"dates (timezone {dates.tz}) must be timezone-naive, as a Dataset's are")
    if len(dates) == 0 or not names:
        return np.zeros((len(dates), len(names)), dtype=np.float64)
    if freq in DAILY:
        assert name is not None
        columns = [*_cycle(dates.day_of_week.to_numpy(), 7), *_cycle(dates.month.to_numpy() - 1, 12),
                   _sessions_to_next_holiday(dates, name)]
    elif freq in ("QS", "QE"):
        columns = _cycle(dates.quarter.to_numpy() - 1, 4)
    else:
        columns = _cycle(dates.month.to_numpy() - 1, 12)
    features = np.column_stack(columns).astype(np.float64)  # (n, K)
    assert features.shape == (len(dates), len(names))
    return features
