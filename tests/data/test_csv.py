import re

import pytest

from hpcast.data import DataError, infer_frequency, load_csv
from hpcast.inputs import load_data

GOOD = "date,close\n2020-01-01,10\n2020-01-02,11\n2020-01-03,12.5\n2020-01-06,12\n"


def test_good_file_loads_as_a_tidy_dataset(write_csv):
    dataset = load_csv(write_csv(GOOD))
    assert dataset.series().tolist() == [10.0, 11.0, 12.5, 12.0]
    assert dataset.freq == "B"
    assert list(dataset.frame.columns) == ["symbol", "date", "value"]


def test_columns_are_chosen_by_name_case_insensitively(write_csv):
    path = write_csv("Day,Open,Adj Close\n2020-01-01,1,5\n2020-02-01,1,6\n2020-03-01,1,7\n")
    dataset = load_csv(path, date_col="day")
    assert dataset.series().tolist() == [5.0, 6.0, 7.0]
    assert dataset.freq == "MS"


# The bad-input matrix: each case gives one line naming the file, the row and the rule.
BAD = {
    "missing value": ("date,close\n2020-01-01,10\n2020-01-02,\n2020-01-03,12\n",
                      r"row 3: missing value in column 'close'"),
    "duplicate date": ("date,close\n2020-01-01,10\n2020-01-02,11\n2020-01-02,12\n",
                       r"row 4: duplicate date 2020-01-02 \(first seen on row 3\)"),
    "negative price": ("date,close\n2020-01-01,10\n2020-01-02,-11\n2020-01-03,12\n",
                       r"row 3: value -11 in column 'close' must be > 0"),
    "text cell": ("date,close\n2020-01-01,10\n2020-01-02,eleven\n2020-01-03,12\n",
                  r"row 3: value 'eleven' in column 'close' is not a number"),
    "empty file": ("", r"row 1: file is empty"),
    "bad date": ("date,close\n2020-01-01,10\n2020-13-45,11\n2020-01-03,12\n",
                 r"row 3: date '2020-13-45' in column 'date' is not a date"),
    "unsorted": ("date,close\n2020-01-01,10\n2020-01-03,11\n2020-01-02,12\n",
                 r"row 4: date 2020-01-02 comes after 2020-01-03 on the row above"),
    "no value column": ("date,a,b\n2020-01-01,1,2\n2020-01-02,1,2\n2020-01-03,1,2\n",
                        r"row 1: cannot tell which column holds the values"),
    "too few rows": ("date,close\n2020-01-01,10\n", r"row 3: need at least 3 data rows, found 1"),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_input_gives_one_line_with_file_row_and_rule(write_csv, case):
    text, rule = BAD[case]
    path = write_csv(text)
    with pytest.raises(DataError, match=rule) as caught:
        load_csv(path)
    message = str(caught.value)
    assert message.startswith(f"{path}: ") and "\n" not in message


def test_several_problems_are_counted(write_csv):
    with pytest.raises(DataError, match=r"row 2: value 'x' .* \(and 1 more problem rows\)"):
        load_csv(write_csv("date,close\n2020-01-01,x\n2020-01-02,y\n2020-01-03,1\n"))


def test_zero_allowed_when_not_prices(write_csv):
    dataset = load_csv(write_csv("date,value\n2020-01-01,0\n2020-02-01,-1\n2020-03-01,2\n"), require_positive=False)
    assert dataset.series().tolist() == [0.0, -1.0, 2.0]


@pytest.mark.parametrize(("dates", "expected"), [
    (["2020-01-01", "2020-01-02", "2020-01-03", "2020-01-04"], "D"),
    (["2020-01-02", "2020-01-03", "2020-01-06", "2020-01-07"], "B"),
    (["2020-01-31", "2020-02-29", "2020-03-31"], "ME"),
    (["2020-01-01", "2020-04-01", "2020-07-01"], "QS"),
    (["2020-01-01", "2020-01-04", "2020-01-07"], "3D"),
])
def test_frequency_inference(dates, expected):
    import pandas as pd

    assert infer_frequency(pd.to_datetime(dates)) == expected


def _csv(dates: list[str], values: list[str] | None = None) -> str:
    values = values or [str(10 + i) for i in range(len(dates))]
    return "date,close\n" + "".join(f"{d},{v}\n" for d, v in zip(dates, values, strict=True))


def _dates(dataset) -> list[str]:
    return [d.isoformat() for d in dataset.frame["date"].dt.date]


# Day-first or month-first: settled by the whole column, by --date-format, or an error; never a guess.
def test_day_first_is_resolved_from_a_day_above_12(write_csv):
    dataset = load_csv(write_csv(_csv(["31/01/2000", "01/02/2000", "02/02/2000", "03/02/2000"])))
    assert _dates(dataset) == ["2000-01-31", "2000-02-01", "2000-02-02", "2000-02-03"]


def test_month_first_is_resolved_from_a_second_field_above_12(write_csv):
    dataset = load_csv(write_csv(_csv(["01/31/2000", "02/01/2000", "02/02/2000", "02/03/2000"])))
    assert _dates(dataset) == ["2000-01-31", "2000-02-01", "2000-02-02", "2000-02-03"]


def test_iso_dates_need_no_evidence(write_csv):
    dataset = load_csv(write_csv(_csv(["2000-01-02", "2000-02-01", "2000-03-01"])))
    assert _dates(dataset) == ["2000-01-02", "2000-02-01", "2000-03-01"]


def test_an_ambiguous_column_fails_naming_the_file_a_value_and_the_flag(write_csv):
    path = write_csv(_csv(["01/02/2000", "01/03/2000", "01/04/2000"]))
    with pytest.raises(DataError) as caught:
        load_csv(path)
    assert str(caught.value) == (
        f"{path}: row 2: date '01/02/2000' in column 'date' could be day-first (2000-02-01) or month-first "
        "(2000-01-02) and no date in the column tells which; pass --date-format (%d/%m/%Y, %m/%d/%Y, dayfirst "
        "or monthfirst)")


def test_a_column_with_both_orders_fails(write_csv):
    path = write_csv(_csv(["", "13/01/2000", "14/01/2000", "01/15/2000"]))  # a blank date moves no row number
    with pytest.raises(DataError) as caught:
        load_csv(path)
    assert str(caught.value) == (f"{path}: row 5: date '01/15/2000' in column 'date' is month-first, but row 3 "
                                 "('13/01/2000') is day-first (a column must hold one order)")


@pytest.mark.parametrize("date_format", ["%d/%m/%Y", "dayfirst"])
def test_date_format_reads_an_ambiguous_column_day_first(write_csv, date_format):
    dataset = load_csv(write_csv(_csv(["01/02/2000", "01/03/2000", "01/04/2000"])), date_format=date_format)
    assert _dates(dataset) == ["2000-02-01", "2000-03-01", "2000-04-01"]
    assert dataset.freq == "MS"


@pytest.mark.parametrize("date_format", ["%m/%d/%Y", "monthfirst"])
def test_date_format_reads_an_ambiguous_column_month_first(write_csv, date_format):
    dataset = load_csv(write_csv(_csv(["01/02/2000", "01/03/2000", "01/04/2000"])), date_format=date_format)
    assert _dates(dataset) == ["2000-01-02", "2000-01-03", "2000-01-04"]


def test_a_date_format_that_is_no_format_is_refused(write_csv):
    with pytest.raises(DataError, match=r"^date_format \('dd/mm/yyyy'\) must be a strptime format such as "
                                        r"%d/%m/%Y, or dayfirst or monthfirst$"):
        load_csv(write_csv(GOOD), date_format="dd/mm/yyyy")


@pytest.mark.parametrize(("date_format", "text"), [("%d/%m/%Y", "2000-03-01"), ("dayfirst", "01/13/2000")])
def test_a_date_not_matching_the_date_format_names_file_row_and_format(write_csv, date_format, text):
    path = write_csv(_csv(["01/02/2000", "01/03/2000", text]))
    with pytest.raises(DataError) as caught:
        load_csv(path, date_format=date_format)
    assert str(caught.value) == (f"{path}: row 4: date {text!r} in column 'date' does not match "
                                 f"--date-format {date_format!r}")


# Timezone offsets: the date as written (the exchange's local date) is kept, whatever the offset.
def test_offsets_keep_the_local_date(write_csv):
    dataset = load_csv(write_csv(_csv(["2024-01-04 00:00:00+09:00", "2024-01-05 00:00:00+09:00",
                                       "2024-01-09 00:00:00+09:00", "2024-01-10 00:00:00+09:00"])))
    assert _dates(dataset) == ["2024-01-04", "2024-01-05", "2024-01-09", "2024-01-10"]
    assert dataset.frame["date"].iloc[0].day_name() == "Thursday"
    assert dataset.freq == "B"


def test_offsets_that_change_with_daylight_saving_load(write_csv):
    dataset = load_csv(write_csv(_csv(["2023-03-09 00:00:00-05:00", "2023-03-10 00:00:00-05:00",
                                       "2023-03-13 00:00:00-04:00", "2023-03-14 00:00:00-04:00"])))
    assert _dates(dataset) == ["2023-03-09", "2023-03-10", "2023-03-13", "2023-03-14"]
    assert dataset.freq == "B"


def test_an_explicit_format_with_offsets_keeps_the_local_date(write_csv):
    dataset = load_csv(write_csv(_csv(["09/03/2023 00:00-05:00", "10/03/2023 00:00-05:00",
                                       "13/03/2023 00:00-04:00", "14/03/2023 00:00-04:00"])),
                       date_format="%d/%m/%Y %H:%M%z")
    assert _dates(dataset) == ["2023-03-09", "2023-03-10", "2023-03-13", "2023-03-14"]


def test_dates_with_and_without_offsets_fail(write_csv):
    path = write_csv(_csv(["2023-03-09 00:00:00-05:00", "2023-03-10 00:00:00-05:00", "2023-03-13"]))
    with pytest.raises(DataError) as caught:
        load_csv(path)
    assert str(caught.value) == (f"{path}: row 4: date '2023-03-13' in column 'date' has no UTC offset but row 2 "
                                 "('2023-03-09 00:00:00-05:00') has one (give every date an offset, or none)")


# Missing values: an error by default that says how to go on; dropped or forward-filled on request.
HOLES = _csv([f"2020-01-{day:02d}" for day in (1, 2, 3, 6, 7, 8, 9, 10, 13, 14, 15, 16)],
             ["", "11", "NA", "12", "13", ".", "14", "15", "16", "17", "18", "#N/A"])


def test_missing_values_fail_by_default_and_say_how_to_go_on(write_csv):
    path = write_csv(HOLES)
    with pytest.raises(DataError) as caught:
        load_csv(path)
    assert str(caught.value) == (f"{path}: row 2: missing value in column 'close' (--missing drop or --missing "
                                 "ffill loads the file anyway) (and 3 more problem rows)")


@pytest.mark.parametrize("marker", ["NA", "N/A", "n/a", "null", "NULL", "#N/A", ".", "NaN", "nan"])
def test_common_spellings_of_a_missing_cell_are_missing(write_csv, marker):
    path = write_csv(_csv(["2020-01-01", "2020-01-02", "2020-01-03"], ["10", marker, "12"]))
    with pytest.raises(DataError, match=rf"row 3: missing value \({re.escape(repr(marker))}\) in column 'close' "
                                        r"\(--missing drop"):
        load_csv(path)


def test_missing_drop_drops_the_rows_and_notes_the_count(write_csv):
    dataset = load_csv(write_csv(HOLES), missing="drop")
    assert _dates(dataset) == [f"2020-01-{day:02d}" for day in (2, 6, 7, 9, 10, 13, 14, 15)]
    assert dataset.series().tolist() == [11.0, 12.0, 13.0, 14.0, 15.0, 16.0, 17.0, 18.0]
    assert dataset.freq == "B"
    assert dataset.notes == ("missing values: 4 rows dropped (--missing drop)",)


def test_missing_ffill_fills_from_the_row_above_and_drops_leading_rows(write_csv):
    dataset = load_csv(write_csv(HOLES), missing="ffill")
    assert _dates(dataset) == [f"2020-01-{day:02d}" for day in (2, 3, 6, 7, 8, 9, 10, 13, 14, 15, 16)]
    assert dataset.series().tolist() == [11.0, 11.0, 12.0, 13.0, 13.0, 14.0, 15.0, 16.0, 17.0, 18.0, 18.0]
    assert dataset.notes == ("missing values: 3 rows filled with the previous row's value, 1 leading row dropped "
                             "(nothing above it to fill from) (--missing ffill)",)


def test_a_file_without_missing_values_gets_no_note(write_csv):
    assert load_csv(write_csv(GOOD), missing="drop").notes == ()


@pytest.mark.parametrize("missing", ["drop", "ffill"])
def test_missing_never_repairs_dates_or_non_numbers(write_csv, missing):
    blank_date = write_csv(_csv(["2020-01-01", "", "2020-01-03", "2020-01-06"], ["10", "", "12", "13"]))
    with pytest.raises(DataError, match=r"row 3: missing date in column 'date'"):
        load_csv(blank_date, missing=missing)
    text = write_csv(_csv(["2020-01-01", "2020-01-02", "2020-01-03", "2020-01-06"], ["10", "", "x", "13"]))
    with pytest.raises(DataError, match=r"row 4: value 'x' in column 'close' is not a number$"):
        load_csv(text, missing=missing)


def test_too_few_rows_left_after_dropping_fails(write_csv):
    path = write_csv(_csv(["2020-01-01", "2020-01-02", "2020-01-03", "2020-01-06"], ["10", "", "", "13"]))
    with pytest.raises(DataError) as caught:
        load_csv(path, missing="drop")
    assert str(caught.value) == (f"{path}: need at least 3 data rows with a value, found 2 "
                                 "(2 rows with missing values dropped by --missing drop)")


def test_an_unknown_missing_policy_is_refused(write_csv):
    with pytest.raises(DataError, match=r"^missing \('zero'\) must be one of error, drop, ffill$"):
        load_csv(write_csv(GOOD), missing="zero")


def test_load_data_threads_the_csv_flags(write_csv):
    path = write_csv(_csv(["01/02/2000", "01/03/2000", "01/04/2000"], ["1", "", "3"]))
    dataset = load_data(csv=path, date_format="dayfirst", missing="ffill")
    assert _dates(dataset) == ["2000-02-01", "2000-03-01", "2000-04-01"]
    assert dataset.notes[0] == "missing values: 1 row filled with the previous row's value (--missing ffill)"


def test_csv_flags_without_a_csv_are_refused():
    with pytest.raises(DataError, match=r"^--date-format, --missing apply to --csv files only \(got --dataset\)$"):
        load_data("air_passengers", date_format="dayfirst", missing="drop")
    with pytest.raises(DataError, match=r"^--missing applies to --csv files only \(got --ticker\)$"):
        load_data(ticker="^GSPC", missing="ffill")
