import pytest

from hpcast.data import DataError, infer_frequency, load_csv

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
