"""`read_dates`, the one reader of dates written as text (CSV files and store imports both use it)."""

from __future__ import annotations

import pandas as pd
import pytest

from hpcast.data.dates import DateOrderError, read_dates


def _rows(text: pd.Series) -> pd.Series:
    return pd.Series(range(2, len(text) + 2), index=text.index)


def test_dates_and_problems_keep_the_texts_labels() -> None:
    text = pd.Series(["31/01/2000", "", "01/02/2000", "soon"], index=[10, 11, 12, 13])
    dates, problems = read_dates(text, None, column="day", rows=_rows(text))
    assert list(dates.index) == list(problems.index) == [10, 11, 12, 13]
    assert dates.dtype == "datetime64[ns]"
    assert list(dates) == [pd.Timestamp("2000-01-31"), pd.NaT, pd.Timestamp("2000-02-01"), pd.NaT]
    assert problems.dropna().to_dict() == {
        11: "missing date in column 'day'", 13: "date 'soon' in column 'day' is not a date (expected e.g. 2020-01-31)"}


def test_offsets_are_dropped_not_applied() -> None:
    text = pd.Series(["2024-01-04 00:00:00+09:00", "2023-03-13 00:00:00-04:00"])
    dates, problems = read_dates(text, None, column="date", rows=_rows(text))
    assert list(dates) == [pd.Timestamp("2024-01-04"), pd.Timestamp("2023-03-13")]
    assert problems.isna().all()


def test_an_unproven_order_raises_with_the_row_and_the_rule() -> None:
    text = pd.Series(["01/01/2000", "01/02/2000"])
    with pytest.raises(DateOrderError) as caught:
        read_dates(text, None, column="date", rows=_rows(text))
    assert caught.value.row == 3
    assert caught.value.rule.startswith("date '01/02/2000' in column 'date' could be day-first (2000-02-01)")
    assert str(caught.value) == f"row 3: {caught.value.rule}"


def test_an_empty_column_reads_as_no_dates_but_a_bad_format_is_refused() -> None:
    dates, problems = read_dates(pd.Series([], dtype=object), None, column="date", rows=pd.Series([], dtype=int))
    assert dates.empty and problems.empty
    with pytest.raises(ValueError, match=r"^date_format \('yyyy'\) must be a strptime format"):
        read_dates(pd.Series([], dtype=object), "yyyy", column="date", rows=pd.Series([], dtype=int))
