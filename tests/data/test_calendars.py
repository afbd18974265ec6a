"""Forecast dates continue the data's own anchor and calendar; gaps against that calendar are reported."""

import json

import pandas as pd
import pytest
from click.testing import CliRunner

from hpcast.data import BUNDLED, DataError, infer_frequency, load_bundled
from hpcast.data.calendars import CALENDARS, find_gaps, future_dates, infer_anchor
from hpcast.inputs import load_data


def _days(*texts: str) -> list[pd.Timestamp]:
    return [pd.Timestamp(text) for text in texts]


def _nyse(start: str, end: str) -> pd.DatetimeIndex:
    """NYSE sessions as a data source would date them (written out, not taken from the library under test)."""
    holidays = pd.DatetimeIndex(["2018-09-03", "2018-11-22", "2018-12-05", "2018-12-25", "2019-01-01"])
    days = pd.bdate_range(start, end)
    return days[~days.isin(holidays)]


# -- periodic series: the anchor comes from the data ---------------------------------------------------------
def test_weekly_friday_closes_continue_on_fridays():
    dates = pd.date_range(end="2018-10-26", periods=30, freq="W-FRI")
    assert infer_frequency(dates) == "W"
    assert infer_anchor(dates, "W").freqstr == "W-FRI"
    assert list(future_dates(dates, "W", 3)) == _days("2018-11-02", "2018-11-09", "2018-11-16")


def test_a_week_closed_early_still_continues_on_the_next_friday():
    dates = pd.DatetimeIndex([*pd.date_range(end="2018-03-23", periods=10, freq="W-FRI"), "2018-03-29"])
    assert list(future_dates(dates, "W", 2)) == _days("2018-04-06", "2018-04-13")  # 03-30 was Good Friday


def test_monthly_data_on_the_15th_continue_on_the_15th():
    dates = pd.date_range("2005-01-15", "2009-12-15", freq="MS") + pd.Timedelta(days=14)
    assert infer_frequency(dates) == "MS"
    assert list(future_dates(dates, "MS", 3)) == _days("2010-01-15", "2010-02-15", "2010-03-15")


def test_monthly_data_on_the_30th_continue_on_the_30th_clamped_to_short_months():
    dates = pd.DatetimeIndex([d.replace(day=min(30, d.days_in_month)) for d in
                              pd.date_range("2008-01-01", "2009-12-01", freq="MS")])
    assert list(future_dates(dates, "MS", 3)) == _days("2010-01-30", "2010-02-28", "2010-03-30")


def test_month_end_and_month_start_data_continue_on_month_ends_and_starts():
    ends = pd.date_range("2008-01-31", "2009-12-31", freq="ME")
    assert infer_frequency(ends) == "ME" and infer_anchor(ends, "ME").freqstr == "ME"
    assert list(future_dates(ends, "ME", 3)) == _days("2010-01-31", "2010-02-28", "2010-03-31")
    starts = pd.date_range("2008-01-01", "2009-12-01", freq="MS")
    assert list(future_dates(starts, "MS", 2)) == _days("2010-01-01", "2010-02-01")


def test_quarter_end_data_continue_on_their_own_quarter_ends():
    december = pd.date_range("2005-03-31", "2009-12-31", freq="QE-DEC")
    assert infer_frequency(december) == "QE" and infer_anchor(december, "QE").freqstr == "QE-DEC"
    assert list(future_dates(december, "QE", 2)) == _days("2010-03-31", "2010-06-30")
    november = pd.date_range("2005-02-28", "2009-11-30", freq="QE-NOV")  # a fiscal year ending in November
    assert list(future_dates(november, "QE", 2)) == _days("2010-02-28", "2010-05-31")


def test_quarter_start_data_keep_their_months():
    dates = pd.date_range("1959-01-01", "2009-07-01", freq="QS-JAN")
    assert infer_anchor(dates, "QS").freqstr == "QS-JAN"
    assert list(future_dates(dates, "QS", 2)) == _days("2009-10-01", "2010-01-01")


# -- daily series: the dates are the sessions of a calendar --------------------------------------------------
def test_nyse_series_skips_new_year_and_thanksgiving():
    december = _nyse("2018-10-01", "2018-12-31")
    assert list(future_dates(december, "B", 3, "NYSE")) == _days("2019-01-02", "2019-01-03", "2019-01-04")
    november = _nyse("2018-09-01", "2018-11-21")
    assert list(future_dates(november, "B", 2, "NYSE")) == _days("2018-11-23", "2018-11-26")


def test_weekdays_calendar_knows_no_holidays():
    assert list(future_dates(_nyse("2018-10-01", "2018-12-31"), "B", 1, "weekdays")) == _days("2019-01-01")


def test_every_day_calendar_includes_weekends():
    bitcoin = load_bundled("bitcoin")
    assert bitcoin.calendar == "every-day"
    dates = future_dates(bitcoin.series().index, "D", 5, bitcoin.calendar)  # last date: Wednesday 2021-10-27
    assert list(dates) == list(pd.date_range("2021-10-28", periods=5))
    assert {"Saturday", "Sunday"} <= set(dates.day_name())


def test_calendar_names_are_checked_and_listed():
    with pytest.raises(DataError, match=r"calendar \('Narnia'\) must be one of: NYSE, London, weekdays, every-day"):
        load_data("sp500", calendar="Narnia")
    with pytest.raises(DataError, match=r"calendar \('NYSE'\) applies only to daily series .* this series is 'MS'"):
        load_data("air_passengers", calendar="NYSE")
    assert load_data("gold", calendar="nyse").calendar == "NYSE"  # any case, stored as spelled in CALENDARS


def test_bundled_assets_carry_their_calendars():
    assert {name: BUNDLED[name].calendar for name in ("sp500", "aapl", "gold", "bitcoin", "treasury_3m")} == {
        "sp500": "NYSE", "aapl": "NYSE", "gold": "London", "bitcoin": "every-day", "treasury_3m": "NYSE"}
    assert load_bundled("sp500").calendar == "NYSE"
    assert load_bundled("air_passengers").calendar is None  # monthly: its dates continue their anchor
    assert load_bundled("sp500").summary()["calendar"].startswith("NYSE")
    assert load_bundled("air_passengers").summary()["calendar"] == "none (dates continue their own anchor: MS)"


# -- gaps -------------------------------------------------------------------------------------------------------
def test_gap_report_counts_missing_sessions_and_the_largest_gap():
    sessions = _nyse("2018-11-01", "2018-12-31")
    removed = sessions.drop(pd.DatetimeIndex(["2018-11-08", "2018-12-11", "2018-12-12", "2018-12-13"]))
    gaps = find_gaps(removed, "B", "NYSE")
    assert (gaps.missing, gaps.largest, gaps.after) == (4, 3, pd.Timestamp("2018-12-10"))
    assert gaps.note() == "4 expected NYSE sessions missing (largest gap: 3 sessions, after 2018-12-10)"


def test_a_real_holiday_is_not_a_gap_on_its_exchange_calendar():
    sessions = _nyse("2018-11-01", "2018-12-31")  # without Thanksgiving, the Bush funeral and Christmas
    assert find_gaps(sessions, "B", "NYSE").note() is None
    assert find_gaps(sessions, "B", "weekdays").note() == (
        "3 expected weekdays missing (largest gap: 1 weekday, after 2018-11-21)")


def test_dates_the_calendar_does_not_expect_are_reported_too():
    dates = pd.bdate_range("2018-12-17", "2019-01-04")  # keeps Christmas and New Year's Day
    assert find_gaps(dates, "B", "NYSE").note() == "2 dates are not NYSE sessions (first: 2018-12-25)"


def test_weekly_gaps_are_counted_in_weeks():
    dates = pd.date_range(end="2018-10-26", periods=20, freq="W-FRI").delete([5, 6])
    assert find_gaps(dates, "W").note() == (
        f"2 expected weeks missing (largest gap: 2 weeks, after {dates[4].date()})")


def test_bundled_exchange_series_have_no_gaps_but_bitcoin_has_its_dropped_rows():
    sp500 = load_bundled("sp500").series().index  # closed 2001-09-11..14 and 2012-10-29..30: not gaps
    assert find_gaps(sp500, "B", "NYSE").missing == 0
    assert find_gaps(sp500, "B", "weekdays").missing == 185
    assert "4 expected days missing (largest gap: 2 days, after 2020-10-11)" in load_data("bitcoin").notes
    assert not any("missing" in note for note in load_data("sp500").notes)


# -- through the forecaster, the saved model, the demo and the CLI ---------------------------------------------
def test_forecaster_dates_continue_weekly_fridays(tiny_config):
    from hpcast.forecast.recurrent import RecurrentForecaster

    index = pd.date_range(end="2018-10-26", periods=60, freq="W-FRI", name="date")
    series = pd.Series(100.0 + pd.RangeIndex(60).to_numpy() % 7, index=index, name="value")
    forecast = RecurrentForecaster(tiny_config).fit(series, "W").predict()
    assert list(forecast["date"]) == _days("2018-11-02", "2018-11-09", "2018-11-16")


def test_the_calendar_is_saved_with_the_model_and_used_after_loading(tiny_config, tmp_path):
    from hpcast.forecast.recurrent import RecurrentForecaster

    series = load_bundled("sp500").series().iloc[-300:]
    fitted = RecurrentForecaster(tiny_config).fit(series, "B", calendar="NYSE")
    folder = fitted.save(tmp_path / "model")
    assert json.loads((folder / "manifest.json").read_text())["series"][0]["calendar"] == "NYSE"
    loaded = RecurrentForecaster.load(folder, history=series)
    assert [entry["calendar"] for entry in loaded.series.values()] == ["NYSE"]
    assert list(loaded.predict()["date"]) == _days("2019-01-02", "2019-01-03", "2019-01-04")


def test_the_demo_forecast_skips_new_years_day(tiny_config, tmp_path):
    """`hpcast demo` is train_job then forecast_job on bundled sp500 (which ends 2018-12-31)."""
    from hpcast.jobs import forecast_job, train_job

    data = load_data("sp500")
    forecaster = train_job(data, tiny_config, tmp_path, quiet=True)
    forecast = forecast_job(data, forecaster, tmp_path)
    assert forecast["date"].iloc[0] == pd.Timestamp("2019-01-02")
    assert pd.Timestamp("2019-01-01") not in set(forecast["date"])


def test_calendar_option_lists_every_calendar():
    from hpcast.cli import cli

    help_text = " ".join(CliRunner().invoke(cli, ["train", "--help"]).output.split())
    assert all(name in help_text for name in CALENDARS), help_text


@pytest.mark.slow
def test_calendar_flag_lands_in_the_model_manifest(tmp_path):
    from hpcast.cli import cli

    result = CliRunner().invoke(cli, ["train", "--dataset", "sp500", "--epochs", "1", "--layers", "4", "--dropout",
                                      "0", "--quiet", "--calendar", "weekdays", "--out", str(tmp_path / "run")])
    assert result.exit_code == 0, result.output
    manifest = json.loads((tmp_path / "run" / "model" / "manifest.json").read_text())
    assert manifest["series"][0]["calendar"] == "weekdays"  # the flag won over sp500's own NYSE


@pytest.mark.slow
def test_forecast_from_a_saved_model_uses_its_calendar_unless_overridden(tmp_path):
    """sp500 ends on 2018-12-31: on NYSE sessions the forecast skips New Year's Day, on weekdays it does not."""
    from hpcast.cli import cli

    run = tmp_path / "run"
    trained = CliRunner().invoke(cli, ["train", "--dataset", "sp500", "--epochs", "1", "--layers", "4", "--dropout",
                                       "0", "--quiet", "--out", str(run)])
    assert trained.exit_code == 0, trained.output
    firsts = []
    for extra in ([], ["--calendar", "weekdays"]):
        out = tmp_path / f"forecast{len(firsts)}"
        done = CliRunner().invoke(cli, ["forecast", "--dataset", "sp500", "--model", str(run), "--out", str(out),
                                        *extra])
        assert done.exit_code == 0, done.output
        firsts.append(pd.read_csv(out / "forecast.csv")["date"].iloc[0])
    assert firsts == ["2019-01-02", "2019-01-01"]
