"""Covariates against hand-computed values, publication lags, a no-lookahead perturbation for every kind,
the missing-value policies and the names table the CLI shows."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from hpcast.data import DataError, load_bundled
from hpcast.features.covariates import COVARIATES, add_covariates, parse_covariates
from hpcast.inputs import load_panel
from hpcast.invest.inflation import PUBLICATION_LAG

DAYS = pd.bdate_range("2024-01-01", periods=6)  # Mon 1 .. Mon 8 January 2024


def tiny() -> pd.DataFrame:
    return pd.DataFrame({"close": [1.0, 2.0, 4.0, 4.0, 2.0, 1.0], "volume": [0.0, 9.0, 99.0, 999.0, 9.0, 0.0],
                         "promo": [0.0, 1.0, 0.0, 1.0, 0.0, 1.0]}, index=DAYS)


def cpi_months() -> pd.Series:
    months = pd.date_range("2022-01-01", "2024-03-01", freq="MS")
    return pd.Series(100.0 * 1.01 ** np.arange(len(months)) + np.arange(len(months)) % 3, index=months)


def sources(**override: pd.Series) -> dict[str, pd.Series]:
    found = {"other": pd.Series([10.0, 20.0, 10.0, 40.0, 20.0, 20.0], index=DAYS),
             "treasury_3m": pd.Series([0.01, 0.02, 0.03, 0.04, 0.05, 0.06], index=DAYS),
             "core_cpi": cpi_months()}
    return {**found, **override}


def covered(names: str, frame: pd.DataFrame | None = None, missing: str = "error", **override: pd.Series):
    found = sources(**override)
    return add_covariates(tiny() if frame is None else frame, "close", parse_covariates(names, ["promo"]),
                          symbol="x", missing=missing, resolve=found.__getitem__)


def test_volume_is_log1p_of_the_own_volume():
    frame, notes = covered("volume")
    np.testing.assert_allclose(frame["volume"], np.log([1.0, 10.0, 100.0, 1000.0, 10.0, 1.0]))
    assert list(frame.columns) == ["close", "volume"] and notes == ()


def test_volume_without_a_volume_column_fails_by_name():
    with pytest.raises(DataError, match=re.escape("x: covariate 'volume' needs a volume column; x has close, promo")):
        covered("volume", tiny().drop(columns="volume"))


def test_ret_is_the_other_series_log_return_on_the_same_date():
    frame, notes = covered("ret:other")
    np.testing.assert_allclose(frame["ret:other"], np.log([2.0, 0.5, 4.0, 0.5, 1.0]))
    assert frame.index[0] == DAYS[1] and notes == ("x: ret:other starts 2024-01-02: 1 row trimmed",)


def test_ma_ratio_divides_by_the_trailing_mean_including_the_row():
    frame, notes = covered("ma_ratio:3")
    means = np.array([7, 10, 10, 7]) / 3  # (1+2+4)/3, (2+4+4)/3, (4+4+2)/3, (4+2+1)/3
    np.testing.assert_allclose(frame["ma_ratio:3"], np.array([4, 4, 2, 1]) / means - 1)
    assert notes == ("x: ma_ratio:3 starts 2024-01-03: 2 rows trimmed",)


def test_a_long_csv_column_is_taken_as_it_is():
    assert covered("promo")[0]["promo"].tolist() == tiny()["promo"].tolist()


def test_rate_enters_one_row_later():
    frame, notes = covered("macro:rate_3m")
    assert frame["macro:rate_3m"].tolist() == [0.01, 0.02, 0.03, 0.04, 0.05]  # Friday's yield on Monday
    assert list(frame.index) == list(DAYS[1:]) and notes == ("x: macro:rate_3m starts 2024-01-02: 1 row trimmed",)


def test_cpi_of_month_m_appears_on_the_first_date_on_or_after_its_end_plus_the_lag():
    days = pd.bdate_range("2024-01-02", "2024-03-29")
    cpi = cpi_months()
    frame = pd.DataFrame({"close": np.ones(len(days))}, index=days)
    values = covered("macro:cpi_yoy", frame)[0]["macro:cpi_yoy"]
    for month in pd.date_range("2023-12-01", "2024-02-01", freq="MS"):
        published = month + pd.DateOffset(months=1) + PUBLICATION_LAG  # e.g. January: 16 February
        first = days[days >= published][0]
        expected = cpi[month] / cpi[month - pd.DateOffset(years=1)] - 1
        assert values[first] == pytest.approx(expected), month
        assert not np.isclose(values[days[days < first][-1]], expected), month  # not a day earlier
    assert values[pd.Timestamp("2024-02-15")] == pytest.approx(cpi["2023-12-01"] / cpi["2022-12-01"] - 1)
    # 2024-03-16 is a Saturday: February's value enters on Monday 18 March
    assert values[pd.Timestamp("2024-03-18")] == pytest.approx(cpi["2024-02-01"] / cpi["2023-02-01"] - 1)


def test_cpi_yoy_on_real_data_uses_the_bundled_core_cpi():
    panel = load_panel(dataset="sp500", covariates="macro:cpi_yoy")
    cpi = load_bundled("core_cpi").series()
    assert panel.series(0, "macro:cpi_yoy")["2000-02-16"] == pytest.approx(cpi["2000-01-01"] / cpi["1999-01-01"] - 1)
    assert panel.series(0, "macro:cpi_yoy")["2000-02-15"] == pytest.approx(cpi["1999-12-01"] / cpi["1998-12-01"] - 1)


def test_calendar_adds_no_column_and_marks_the_panel_known_future():
    frame, _ = covered("calendar")
    assert list(frame.columns) == ["close"]
    panel = load_panel(datasets="sp500,nasdaq", covariates="calendar")
    assert panel.known_future == ("calendar",) and panel.columns == ("adj_close",)


# -- no lookahead: raw values after d never move a covariate dated d or earlier --------------------------------
LONG_DAYS = pd.bdate_range("2023-06-01", periods=160)


def raw_inputs(seed: int) -> tuple[pd.DataFrame, dict[str, pd.Series]]:
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame({"close": np.exp(rng.normal(0, 0.1, len(LONG_DAYS))), "volume": rng.uniform(0, 1e6, 160),
                          "promo": rng.normal(size=160)}, index=LONG_DAYS)
    months = pd.date_range("2022-01-01", "2024-06-01", freq="MS")
    return frame, {"other": pd.Series(np.exp(rng.normal(0, 0.1, 160)), index=LONG_DAYS),
                   "treasury_3m": pd.Series(rng.uniform(0, 0.05, 160), index=LONG_DAYS),
                   "core_cpi": pd.Series(100 + rng.uniform(0, 10, len(months)), index=months)}


def perturbed_after(d: pd.Timestamp, frame: pd.DataFrame, others: dict[str, pd.Series], seed: int):
    rng = np.random.default_rng(seed)
    frame = frame.copy()
    later = frame.index > d
    frame.loc[later] = frame.loc[later] * rng.uniform(1.5, 3.0, (int(later.sum()), frame.shape[1]))
    changed = {}
    for name, series in others.items():
        after = series.index > d
        if name == "core_cpi":  # stronger: every month published after d, though dated before it
            after = series.index + pd.DateOffset(months=1) + PUBLICATION_LAG > d
        changed[name] = series.where(~after, series * rng.uniform(1.5, 3.0, len(series)))
    return frame, changed


@pytest.mark.parametrize("name", ["volume", "ret:other", "ma_ratio:20", "macro:cpi_yoy", "macro:rate_3m", "promo"])
def test_no_covariate_sees_raw_values_after_its_date(name):
    frame, others = raw_inputs(0)
    specs = parse_covariates(name, ["promo"])
    before, _ = add_covariates(frame, "close", specs, symbol="x", resolve=others.__getitem__)
    for seed, d in enumerate(LONG_DAYS[[30, 75, 120]]):
        moved_frame, moved = perturbed_after(d, frame, others, seed)
        after, _ = add_covariates(moved_frame, "close", specs, symbol="x", resolve=moved.__getitem__)
        upto = before.index <= d
        np.testing.assert_array_equal(after.loc[upto, name], before.loc[upto, name], err_msg=f"{name} at {d.date()}")
        assert not np.allclose(after.loc[~upto, name], before.loc[~upto, name]), "the perturbation changed nothing"


# -- names ----------------------------------------------------------------------------------------------------
def test_parse_gives_the_names_as_written():
    parsed = parse_covariates("volume, ret:nasdaq,ma_ratio:50,macro:cpi_yoy,calendar,")
    assert [c.name for c in parsed] == ["volume", "ret:nasdaq", "ma_ratio:50", "macro:cpi_yoy", "calendar"]
    assert [c.kind for c in parsed] == ["volume", "ret:NAME", "ma_ratio:N", "macro:cpi_yoy", "calendar"]
    assert parse_covariates(None) == () and parse_covariates(["ma_ratio:5"])[0].argument == "5"


BAD_NAMES = {
    "foo": "covariate ('foo') must be one of volume, ret:NAME, ma_ratio:N, macro:cpi_yoy, macro:rate_3m, calendar, "
           "or (long CSV files) one of the file's numeric columns",
    "macro:gdp": "covariate ('macro:gdp') must be one of volume, ret:NAME,",
    "ret:": "covariate ('ret:') must be one of",
    "ma_ratio:x": "covariate ('ma_ratio:x'): N ('x') must be a whole number of rows >= 2, as in ma_ratio:50",
    "ma_ratio:1": "covariate ('ma_ratio:1'): N ('1') must be a whole number of rows >= 2",
    "volume,volume": "covariate ('volume') is given twice",
}


@pytest.mark.parametrize("text", sorted(BAD_NAMES))
def test_bad_names_list_the_valid_ones(text):
    with pytest.raises(DataError, match=re.escape(BAD_NAMES[text])):
        parse_covariates(text)


def test_an_unknown_name_with_a_file_lists_its_columns():
    with pytest.raises(DataError, match=re.escape("calendar, or a column of the file (promo, price)")):
        parse_covariates("sales", ["promo", "price"])


def test_an_unknown_other_series_names_the_covariate():
    with pytest.raises(DataError, match=re.escape("covariate 'ret:nope': dataset ('nope') must be one of: ")):
        load_panel(dataset="sp500", covariates="ret:nope")


# -- missing values and trimming ---------------------------------------------------------------------------------
def holey() -> pd.Series:  # lacks Thursday 4 and Friday 5 January
    return pd.Series([10.0, 20.0, 10.0, 20.0], index=DAYS[[0, 1, 2, 5]])


def test_a_hole_is_an_error_naming_covariate_symbol_and_first_date():
    message = "x: covariate 'ret:other' is missing on 2024-01-04 (2 rows after it starts) (--missing drop or"
    with pytest.raises(DataError, match=re.escape(message)):
        covered("ret:other", other=holey())


def test_drop_removes_the_rows_with_a_hole():
    frame, notes = covered("ret:other,volume", missing="drop", other=holey())
    assert list(frame.index) == list(DAYS[[1, 2, 5]])
    np.testing.assert_allclose(frame["ret:other"], np.log([2.0, 0.5, 2.0]))
    assert "x: ret:other: 2 rows with a missing value dropped (--missing drop)" in notes


def test_ffill_fills_from_the_row_above_and_trims_the_leading_rows():
    frame, notes = covered("ret:other", missing="ffill", other=holey())
    assert list(frame.index) == list(DAYS[1:])
    np.testing.assert_allclose(frame["ret:other"], np.log([2.0, 0.5, 0.5, 0.5, 2.0]))
    assert notes == ("x: ret:other starts 2024-01-02: 1 row trimmed",
                     "x: ret:other: 2 rows filled with the previous row's value (--missing ffill)")


def test_a_covariate_starting_later_trims_with_a_note_and_none_when_nothing_is_trimmed():
    late = pd.Series([1.0, 2.0, 4.0, 8.0], index=DAYS[2:])
    frame, notes = covered("ret:other", other=late)
    assert list(frame.index) == list(DAYS[3:]) and notes == ("x: ret:other starts 2024-01-04: 3 rows trimmed",)
    goog = load_panel(dataset="goog", covariates="ret:nasdaq")
    assert goog.lengths.tolist() == [len(load_bundled("goog").frame)]
    assert not any("trimmed" in note for note in goog.notes)


def test_a_covariate_with_no_value_at_all_says_so():
    with pytest.raises(DataError, match=re.escape("x: covariate 'ret:other' has no value on any of x's dates")):
        covered("ret:other", other=pd.Series([1.0, 2.0], index=pd.bdate_range("2020-01-01", periods=2)))


def test_a_stale_macro_series_says_it_is_carried_forward():
    panel = load_panel(dataset="sp500", covariates="macro:rate_3m")
    assert any(note.startswith("sp500: macro:rate_3m: treasury_3m ends 2017-03-29; its last value is carried over")
               for note in panel.notes)


# -- the one table, read by the CLI ------------------------------------------------------------------------------
def test_help_and_data_show_read_the_table():
    from hpcast.cli import cli

    help_text = " ".join(CliRunner().invoke(cli, ["train", "--help"]).output.split())
    assert all(f"{kind}:" in help_text for kind in COVARIATES), help_text
    shown = CliRunner().invoke(cli, ["data", "show", "sp500"])
    line = next(line for line in shown.output.splitlines() if "covariates:" in line)
    assert "volume, ret:NAME (NAME: nasdaq, aapl" in line and "macro:cpi_yoy" in line and "calendar" in line
    gold = CliRunner().invoke(cli, ["data", "show", "gold"]).output
    assert "covariates: ret:NAME" in gold  # no volume column, so no volume
