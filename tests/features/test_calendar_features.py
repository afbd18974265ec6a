"""Calendar features are known in advance: hand-checked values, future dates, no dependence on other dates."""

import numpy as np
import pandas as pd
import pytest

from hpcast.data import DataError
from hpcast.data.calendars import future_dates
from hpcast.features.calendar_features import calendar_feature_names, calendar_features

HOLIDAY = -1  # column of sessions_to_next_holiday in daily features


def _holiday_value(day: str, calendar: str) -> float:
    return float(calendar_features(pd.DatetimeIndex([day]), "B", calendar)[0, HOLIDAY])


# -- sessions to the next holiday, counted by hand ------------------------------------------------------------
@pytest.mark.parametrize(("day", "sessions", "why"), [
    ("2018-12-21", 1, "Fri; Mon 24th is a session, Tue 25th Christmas"),
    ("2018-12-24", 0, "the session before Christmas"),
    ("2018-12-25", 4, "Christmas itself: 26, 27, 28, 31 Dec, then New Year's Day"),
    ("2018-12-31", 0, "New Year's Eve, across the year boundary"),
    ("2018-11-14", 5, "Wed; 15, 16, 19, 20, 21 Nov are sessions: the cap, no holiday within 5"),
    ("2018-11-15", 4, "Thu; 16, 19, 20, 21 Nov, then Thanksgiving (Thu 22nd)"),
    ("2018-11-19", 2, "Mon; 20, 21 Nov, then Thanksgiving"),
    ("2018-11-21", 0, "the eve of Thanksgiving"),
    ("2018-11-23", 5, "the half day after Thanksgiving is a session, and so are the next weeks'"),
    ("2018-03-26", 3, "Mon; 27, 28, 29 Mar, then Good Friday (30th)"),
    ("2018-12-03", 1, "Mon; Tue 4th, then the one-off closure for President Bush (5th)"),
])
def test_nyse_sessions_to_next_holiday_by_hand(day, sessions, why):
    assert _holiday_value(day, "NYSE") == pytest.approx(sessions / 5), why


def test_london_counts_its_own_holidays():
    assert _holiday_value("2018-03-28", "London") == pytest.approx(0.2)  # Thu 29th, then Good Friday
    assert _holiday_value("2018-03-30", "London") == 0.0  # Good Friday; Easter Monday is the next weekday
    assert _holiday_value("2018-11-19", "London") == 1.0  # Thanksgiving is no London holiday


@pytest.mark.parametrize("calendar", ["weekdays", "every-day", None])
def test_calendars_without_holidays_are_always_one(calendar):
    freq = "D" if calendar == "every-day" else "B"
    days = pd.date_range("2018-12-20", "2019-01-03", freq=freq)
    assert (calendar_features(days, freq, calendar)[:, HOLIDAY] == 1.0).all()


def test_future_dates_past_the_data_and_past_the_libraries_default_end():
    # exchange-calendars' default calendar ends a year after today; these are built from the rules.
    assert _holiday_value("2030-11-25", "NYSE") == pytest.approx(0.4)  # Tue 26, Wed 27, Thanksgiving Thu 28
    assert _holiday_value("2030-04-15", "NYSE") == pytest.approx(0.6)  # 16, 17, 18, Good Friday 19 Apr 2030
    assert _holiday_value("2040-12-21", "NYSE") == pytest.approx(0.2)  # Fri; Mon 24, Christmas Tue 25 Dec 2040


# -- the cyclic columns ---------------------------------------------------------------------------------------
def test_daily_row_by_hand():
    row = calendar_features(pd.DatetimeIndex(["2018-12-21"]), "B", "NYSE")[0]  # Friday (4), December (11)
    expected = [np.sin(2 * np.pi * 4 / 7), np.cos(2 * np.pi * 4 / 7), -0.5, np.sqrt(3) / 2, 0.2]
    np.testing.assert_allclose(row, expected, atol=1e-15)


def test_quarterly_and_monthly_rows_by_hand():
    quarters = calendar_features(pd.DatetimeIndex(["2018-03-31", "2018-06-30", "2018-12-31"]), "QE", None)
    np.testing.assert_allclose(quarters, [[0, 1], [1, 0], [-1, 0]], atol=1e-15)
    months = calendar_features(pd.DatetimeIndex(["2018-01-01", "2018-04-01", "2018-07-01"]), "MS", None)
    np.testing.assert_allclose(months, [[0, 1], [1, 0], [0, -1]], atol=1e-15)


# -- a row depends on its date alone --------------------------------------------------------------------------
@pytest.mark.parametrize(("freq", "calendar"), [("B", "NYSE"), ("B", "London"), ("D", "every-day"),
                                                ("W", None), ("QE", None)])
def test_a_row_does_not_depend_on_the_other_dates(freq, calendar):
    days = pd.date_range("2016-12-01", "2019-02-01", freq="B" if freq == "B" else "D")
    together = calendar_features(days, freq, calendar)
    alone = np.vstack([calendar_features(days[[i]], freq, calendar) for i in range(len(days))])
    np.testing.assert_array_equal(together, alone)
    order = np.random.default_rng(0).permutation(len(days))
    np.testing.assert_array_equal(calendar_features(days[order], freq, calendar), together[order])
    far = days.append(pd.DatetimeIndex(["1990-06-01", "2035-06-01"]))  # widens the calendar built
    np.testing.assert_array_equal(calendar_features(far, freq, calendar)[:len(days)], together)


def test_future_dates_get_the_rows_they_get_inside_a_history():
    history = pd.bdate_range("2018-11-01", "2018-12-20")
    ahead = future_dates(history, "B", 10, "NYSE")
    later_history = pd.bdate_range("2018-11-01", "2019-01-31")
    inside = later_history.get_indexer(ahead)
    np.testing.assert_array_equal(calendar_features(ahead, "B", "NYSE"),
                                  calendar_features(later_history, "B", "NYSE")[inside])


# -- shapes, names, errors ------------------------------------------------------------------------------------
@pytest.mark.parametrize(("freq", "names"), [
    ("B", ("day_of_week_sin", "day_of_week_cos", "month_sin", "month_cos", "sessions_to_next_holiday")),
    ("D", ("day_of_week_sin", "day_of_week_cos", "month_sin", "month_cos", "sessions_to_next_holiday")),
    ("3D", ("month_sin", "month_cos")), ("W", ("month_sin", "month_cos")),
    ("MS", ("month_sin", "month_cos")), ("ME", ("month_sin", "month_cos")),
    ("QS", ("quarter_sin", "quarter_cos")), ("QE", ("quarter_sin", "quarter_cos")),
    ("YS", ()),
])
def test_shapes_and_names_per_frequency(freq, names):
    assert calendar_feature_names(freq) == names
    days = pd.date_range("2018-01-01", periods=7, freq="D")
    features = calendar_features(days, freq, None)
    assert features.shape == (7, len(names)) and features.dtype == np.float64
    assert calendar_features(days[:0], freq, None).shape == (0, len(names))


def test_errors_name_the_argument_value_and_rule():
    days = pd.DatetimeIndex(["2018-12-21"])
    with pytest.raises(DataError, match=r"freq \('H'\) must be one of"):
        calendar_features(days, "H", None)
    with pytest.raises(DataError, match=r"calendar \('Tokyo'\) must be one of: NYSE, London"):
        calendar_features(days, "B", "Tokyo")
    with pytest.raises(DataError, match=r"calendar \('NYSE'\) applies only to daily series"):
        calendar_features(days, "W", "NYSE")
    with pytest.raises(DataError, match=r"dates \(timezone UTC\) must be timezone-naive"):
        calendar_features(days.tz_localize("UTC"), "B", "NYSE")
