"""`load_panel` and `load_long_csv`: long CSV files, bundled datasets, store symbols as of a time, one series."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import click
import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from hpcast.data import DataError
from hpcast.data.panel import Panel
from hpcast.inputs import load_data, load_long_csv, load_panel
from hpcast.store import FeatureStore

# a: five business days; b: starts later, three business days, rows out of order
LONG = """unique_id,ds,y,promo
a,2024-01-01,10,0
a,2024-01-02,11,1
a,2024-01-03,12,0
a,2024-01-04,13,1
a,2024-01-05,14,0
b,2024-01-10,22,1
b,2024-01-08,20,0
b,2024-01-09,21,0
"""


def test_long_csv_of_two_series_with_different_ranges(write_csv):
    panel = load_long_csv(write_csv(LONG, "long.csv"), covariates="promo")
    assert panel.symbols == ("a", "b") and panel.name == "long" and panel.freq == "B"
    assert panel.columns == ("y", "promo") and panel.lengths.tolist() == [5, 3]
    assert list(panel.index("a")) == list(pd.bdate_range("2024-01-01", periods=5))
    assert list(panel.index("b")) == list(pd.bdate_range("2024-01-08", periods=3))
    assert panel.series("b").tolist() == [20.0, 21.0, 22.0]  # sorted within the series
    assert panel.series("b", "promo").tolist() == [0.0, 0.0, 1.0]
    assert panel.calendars == ("weekdays", "weekdays") and panel.known_future == ()
    assert "b: rows sorted by date (the file lists them out of order)" in panel.notes


def test_without_covariates_only_the_target_is_read(write_csv):
    panel = load_long_csv(write_csv(LONG, "long.csv"))
    assert panel.columns == ("y",)


def test_load_panel_reads_a_csv_with_an_id_column_as_long(write_csv):
    path = write_csv(LONG, "long.csv")
    assert load_panel(csv=path).fingerprint() == load_long_csv(path).fingerprint()
    renamed = write_csv(LONG.replace("unique_id,ds,y", "series,day,sales"), "renamed.csv")
    panel = load_panel(csv=renamed, id_col="series", date_col="day", value_col="sales", covariates="promo")
    assert panel.symbols == ("a", "b") and panel.columns == ("sales", "promo")


LONG_BAD = {
    "duplicate": (LONG + "a,2024-01-02,15,0\n",
                  "row 10: duplicate (unique_id, ds) ('a', 2024-01-02) (first seen on row 3)"),
    "missing target": (LONG.replace("a,2024-01-03,12", "a,2024-01-03,NA"),
                       "row 4: missing value ('NA') in column 'y' (--missing drop or --missing ffill"),
    "missing covariate": (LONG.replace("a,2024-01-03,12,0", "a,2024-01-03,12,."),
                          "row 4: missing value ('.') in column 'promo'"),
    "text covariate": (LONG.replace("a,2024-01-03,12,0", "a,2024-01-03,12,yes"),
                       "row 4: value 'yes' in column 'promo' is not a number"),
    "bad date": (LONG.replace("2024-01-04", "2024-13-04"), "row 5: date '2024-13-04' in column 'ds' is not a date"),
    "missing id": (LONG.replace("a,2024-01-05", ",2024-01-05"), "row 6: missing id in column 'unique_id'"),
    "no id column": (LONG.replace("unique_id", "id"), "row 1: no id column 'unique_id' (columns: id, ds, y, promo)"),
    "frequencies": (LONG + "".join(f"c,2024-{m:02d}-01,5\n" for m in range(1, 5)),
                    "the series must share one frequency, got a, b: B (business days); c: MS (monthly (period start))"),
}


@pytest.mark.parametrize("case", sorted(LONG_BAD))
def test_long_csv_errors_name_file_row_column_and_rule(write_csv, case):
    text, message = LONG_BAD[case]
    path = write_csv(text, "long.csv")
    with pytest.raises(DataError, match=re.escape(message)) as error:
        load_long_csv(path, covariates="promo" if "covariate" in case else ())
    assert str(error.value).startswith(f"{path}: ")


def test_long_csv_missing_policies_stay_within_a_series(write_csv):
    text = LONG.replace("b,2024-01-08,20", "b,2024-01-08,").replace("a,2024-01-03,12", "a,2024-01-03,")
    path = write_csv(text, "long.csv")
    dropped = load_long_csv(path, missing="drop")
    assert dropped.lengths.tolist() == [4, 2] and dropped.series("a").tolist() == [10.0, 11.0, 13.0, 14.0]
    filled = load_long_csv(path, missing="ffill")
    assert filled.series("a").tolist() == [10.0, 11.0, 11.0, 13.0, 14.0]
    assert filled.series("b").tolist() == [21.0, 22.0]  # b's first row has nothing above it in b: dropped, not 14
    assert any(note.startswith("b: missing values: 0 rows filled") for note in filled.notes)


def test_bundled_datasets_each_keep_their_calendar():
    panel = load_panel(datasets="sp500,nasdaq")
    assert panel.symbols == ("sp500", "nasdaq") and panel.calendars == ("NYSE", "NYSE") and panel.freq == "B"
    assert panel.columns == ("adj_close",) and panel.lengths.tolist() == [5031, 5031]
    assert panel.series("nasdaq").tolist() == load_data("nasdaq").series().tolist()
    mixed = load_panel(datasets=["sp500", "gold"])
    assert mixed.columns == ("y",) and mixed.calendars == ("NYSE", "London")


def test_a_frequency_mismatch_says_which_series_differ():
    message = "must share one frequency, got sp500: B (business days); air_passengers: MS (monthly (period start))"
    with pytest.raises(DataError, match=re.escape(message)):
        load_panel(datasets="sp500,air_passengers")


def test_one_series_flags_give_the_panel_of_one_load_data_gives():
    panel = load_panel(dataset="air_passengers")
    assert panel.fingerprint() == Panel.from_dataset(load_data("air_passengers")).fingerprint()
    assert panel.notes == load_data("air_passengers").notes


def test_a_wide_csv_is_a_panel_of_one(write_csv):
    path = write_csv("date,close\n2020-01-01,10\n2020-01-02,11\n2020-01-03,12\n", "wide.csv")
    panel = load_panel(csv=path)
    assert panel.symbols == ("wide",) and panel.columns == ("value",) and panel.series().tolist() == [10, 11, 12]


SOURCE_RULES = {
    "none": ({}, "give exactly one of --datasets, --csv, --symbols, --dataset or --ticker (got none)"),
    "two": ({"datasets": "sp500", "dataset": "gold"}, "give exactly one of --datasets, --csv, --symbols, --dataset or "
                                                     "--ticker (got --datasets, --dataset)"),
    "as-of": ({"datasets": "sp500", "as_of": "2020-01-01"}, "--as-of reads the feature store as it was then"),
    "from-store": ({"dataset": "sp500", "from_store": True}, "--from-store reads --symbols: name them"),
    "date-format": ({"datasets": "sp500", "date_format": "dayfirst"},
                    "--date-format applies to --csv files only (got --datasets)"),
    "twice": ({"datasets": "sp500,sp500"}, "--datasets names sp500 more than once"),
    "value-col": ({"datasets": "sp500,gold", "value_col": "close"}, "value_col ('close') must be a column of gold"),
}


@pytest.mark.parametrize("case", sorted(SOURCE_RULES))
def test_source_rules(case):
    kwargs, message = SOURCE_RULES[case]
    with pytest.raises(DataError, match=re.escape(message)):
        load_panel(**kwargs)


# -- the feature store: as-of reads ------------------------------------------------------------------------
T0 = datetime(2024, 1, 2, 12, tzinfo=UTC)
TODAY = date(2024, 1, 2)


def prices(symbol: str, dates: pd.DatetimeIndex, seed: int) -> pd.DataFrame:
    close = 100 * np.exp(np.cumsum(np.random.default_rng(seed).normal(0, 0.01, len(dates))))
    return pd.DataFrame({"symbol": symbol, "date": dates, "open": close, "high": close * 1.01, "low": close * 0.99,
                         "close": close, "adj_close": close, "volume": 1000.0 + np.arange(len(dates))})


@pytest.fixture
def store(tmp_path: Path) -> FeatureStore:
    store = FeatureStore(url=str(tmp_path / "store"))
    store.register(pd.DataFrame({"symbol": ["aaa", "bbb"], "group": "prices", "description": "test",
                                 "source": "test", "freq": "B"}), now=T0 - timedelta(days=30))
    days = pd.bdate_range("2020-01-01", periods=60)
    store.upsert("prices", pd.concat([prices("aaa", days[:40], 0), prices("bbb", days[:40], 1)]), now=T0, today=TODAY)
    later = T0 + timedelta(days=1)
    store.upsert("prices", pd.concat([prices("aaa", days, 0)[40:], prices("bbb", days, 1)[40:]]), now=later,
                 today=TODAY)
    return store


def test_store_symbols_as_of_leave_out_later_ingested_rows(store):
    then = load_panel(symbols="aaa,bbb", from_store=True, store=store.url, as_of=T0 + timedelta(hours=1))
    now = load_panel(symbols="aaa,bbb", from_store=True, store=store.url)
    assert then.symbols == ("aaa", "bbb") and then.lengths.tolist() == [40, 40] and now.lengths.tolist() == [60, 60]
    assert then.dates.max() == np.datetime64(pd.bdate_range("2020-01-01", periods=40)[-1], "ns")
    np.testing.assert_array_equal(then.values[:40], now.values[:40])
    with pytest.raises(ValueError, match="no rows as of"):
        load_panel(symbols="aaa", from_store=True, store=store, as_of=T0 - timedelta(days=1))


def test_store_covariates_read_the_store_as_of_the_same_time(store):
    then = load_panel(symbols="aaa", from_store=True, store=store, as_of=T0 + timedelta(hours=1),
                      covariates="volume,ret:bbb")
    assert then.columns == ("adj_close", "volume", "ret:bbb") and then.lengths.tolist() == [39]  # ret starts a row late
    bbb = prices("bbb", pd.bdate_range("2020-01-01", periods=40), 1)["adj_close"].to_numpy()
    np.testing.assert_allclose(then.series(0, "ret:bbb").to_numpy(), np.diff(np.log(bbb)))
    np.testing.assert_allclose(then.series(0, "volume").to_numpy(), np.log1p(1000.0 + np.arange(1, 40)))
    assert "aaa: ret:bbb starts 2020-01-02: 1 row trimmed" in then.notes


def test_cli_flags_load_a_panel_and_print_its_notes(write_csv):
    from hpcast.cli.options import data_options, load_panel_flags

    @click.command()
    @data_options
    def show(**kwargs):
        panel = load_panel_flags(kwargs)
        assert not kwargs  # every data flag was popped
        click.echo(f"{panel.symbols} {panel.columns} {panel.known_future}")

    path = write_csv(LONG, "long.csv")
    result = CliRunner().invoke(show, ["--csv", str(path), "--covariates", "promo,calendar"])
    assert result.exit_code == 0, result.output
    assert "('a', 'b') ('y', 'promo') ('calendar',)" in result.output
    assert "long: b: rows sorted by date" in result.output
    both = CliRunner().invoke(show, ["--datasets", "sp500,nasdaq", "--covariates", "ma_ratio:5"])
    assert "('sp500', 'nasdaq') ('adj_close', 'ma_ratio:5') ()" in both.output
