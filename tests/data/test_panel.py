"""`Panel`: every invariant's message, and the derived panels (until, select, with_columns, to_long)."""

from __future__ import annotations

import dataclasses
import re

import numpy as np
import pandas as pd
import pytest

from hpcast.data import DataError, load_bundled
from hpcast.data.panel import Panel
from hpcast.inputs import load_long_csv


def two_series() -> Panel:
    a = pd.DataFrame({"y": [1.0, 2.0, 3.0], "x": [10.0, 20.0, 30.0]}, index=pd.bdate_range("2024-01-01", periods=3))
    b = pd.DataFrame({"y": [4.0, 5.0], "x": [40.0, 50.0]}, index=pd.bdate_range("2024-01-02", periods=2))
    return Panel.from_frames({"a": a, "b": b}, "B", {"a": "NYSE", "b": "weekdays"}, name="two")


def test_from_frames_stacks_rows_series_by_series():
    panel = two_series()
    assert panel.symbols == ("a", "b") and panel.columns == ("y", "x") and panel.calendars == ("NYSE", "weekdays")
    assert panel.offsets.tolist() == [0, 3, 5] and panel.lengths.tolist() == [3, 2]
    assert panel.values[:, 0].tolist() == [1.0, 2.0, 3.0, 4.0, 5.0]
    assert panel.series("b", "x").tolist() == [40.0, 50.0]
    assert list(panel.index("b")) == list(pd.bdate_range("2024-01-02", periods=2))


def broken(**changes):
    return lambda: dataclasses.replace(two_series(), **changes)


DATES = two_series().dates
INVARIANTS = {
    "values 1-D": (broken(values=np.zeros(5)), "values must be a 2-D float64 array (N, F), got float64 of shape (5,)"),
    "values int": (broken(values=np.zeros((5, 2), dtype=np.int64)), "values must be a 2-D float64 array"),
    "columns": (broken(columns=("y",)), "columns (['y']) must name the 2 value columns, each once"),
    "columns twice": (broken(columns=("y", "y")), "columns (['y', 'y']) must name the 2 value columns, each once"),
    "offsets count": (broken(offsets=np.array([0, 5])), "offsets must hold one entry per series plus one (3), got 2"),
    "offsets start": (broken(offsets=np.array([1, 3, 5])), "offsets must rise from 0 to 5 rows, each series at least"),
    "empty series": (broken(offsets=np.array([0, 5, 5])), "offsets must rise from 0 to 5 rows, each series at least"),
    "symbols": (broken(symbols=("a", "a")), "symbols must be unique, got ['a', 'a']"),
    "calendars": (broken(calendars=("NYSE",)), "calendars must give one per series (2), got 1"),
    "freq": (broken(freq="H"), "freq ('H') must be one of"),
    "dates dtype": (broken(dates=DATES.astype("datetime64[D]")), "dates must be datetime64[ns] of shape (5,), got"),
    "dates shape": (broken(dates=DATES[:4]), "dates must be datetime64[ns] of shape (5,), got datetime64[ns] of shape"),
    "not finite": (broken(values=np.where(np.arange(10).reshape(5, 2) == 7, np.nan, two_series().values)),
                   "two: column 'x' of series 'b' at 2024-01-02 has a missing or infinite value"),
    "dates order": (broken(dates=DATES[[0, 2, 1, 3, 4]]),
                    "dates must be strictly increasing within each series; series 'a' at 2024-01-02 is not"),
}


@pytest.mark.parametrize("case", sorted(INVARIANTS))
def test_each_invariant_is_enforced_with_its_message(case):
    build, message = INVARIANTS[case]
    with pytest.raises(DataError, match=re.escape(message)):
        build()


def test_a_series_may_start_before_the_previous_one_ends():
    panel = two_series()
    assert panel.dates[3] < panel.dates[2]  # b's first date is before a's last: a series boundary, no error


def test_until_keeps_rows_on_or_before_the_date_and_drops_empty_series():
    panel = two_series().until("2024-01-02")
    assert panel.symbols == ("a", "b") and panel.lengths.tolist() == [2, 1]
    assert panel.values[:, 1].tolist() == [10.0, 20.0, 40.0]
    only_a = two_series().until("2024-01-01")
    assert only_a.symbols == ("a",) and only_a.calendars == ("NYSE",) and only_a.lengths.tolist() == [1]


def test_select_reorders_series_with_their_calendars():
    panel = two_series().select(["b", "a"])
    assert panel.symbols == ("b", "a") and panel.calendars == ("weekdays", "NYSE")
    assert panel.values[:, 0].tolist() == [4.0, 5.0, 1.0, 2.0, 3.0] and panel.offsets.tolist() == [0, 2, 5]
    with pytest.raises(DataError, match=re.escape("symbol ('c') must be one of ['a', 'b']")):
        two_series().select(["c"])


def test_with_columns_appends_row_for_row_and_checks_shape_and_names():
    panel = two_series().with_columns(["z"], np.arange(5.0)[:, None])
    assert panel.columns == ("y", "x", "z") and panel.series("b", "z").tolist() == [3.0, 4.0]
    with pytest.raises(DataError, match=re.escape("new columns ['z'] must have shape (5, 1), got (4, 1)")):
        two_series().with_columns(["z"], np.zeros((4, 1)))
    with pytest.raises(DataError, match=re.escape("column(s) ['x'] already exist")):
        two_series().with_columns(["x"], np.zeros((5, 1)))
    assert two_series().target_only().columns == ("y",)


def test_to_long_round_trips_through_a_long_csv(tmp_path):
    panel = two_series()
    long = panel.to_long()
    assert list(long.columns) == ["unique_id", "ds", "y", "x"] and long["unique_id"].tolist() == list("aaabb")
    path = tmp_path / "two.csv"
    long.to_csv(path, index=False)
    back = load_long_csv(path, covariates="x", calendar="weekdays")
    assert back.fingerprint() == panel.fingerprint()
    assert back.columns == panel.columns and back.freq == "B"


def test_from_dataset_is_a_panel_of_one():
    panel = Panel.from_dataset(load_bundled("air_passengers"))
    assert panel.symbols == ("air_passengers",) and panel.values.shape == (144, 1) and panel.calendars == (None,)
    assert panel.series().iloc[:2].tolist() == [112.0, 118.0]
