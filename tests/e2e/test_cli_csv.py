"""A user's CSV through `hpcast train`: day-first dates, UTC offsets and missing cells (slow: real training)."""

import json

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from hpcast.cli import cli

pytestmark = pytest.mark.slow

TINY = ["--epochs", "1", "--layers", "4", "--dropout", "0", "--quiet", "--window", "5", "--horizon", "2"]
DAYS = pd.bdate_range("2024-01-02", periods=60)  # business days, 2024-01-02 .. 2024-03-25


def _write(path, dates, values=None):
    values = values or [f"{v:.2f}" for v in 100 + np.cumsum(np.random.default_rng(0).normal(0, 1, len(dates)))]
    path.write_text("date,close\n" + "".join(f"{d},{v}\n" for d, v in zip(dates, values, strict=True)))
    return path


def _train(csv, out, *flags):
    return CliRunner().invoke(cli, ["train", "--csv", str(csv), *TINY, "--out", str(out), *flags])


def _data(out):
    return json.loads((out / "manifest.json").read_text())["data"]


def test_day_first_dates_train_on_the_right_days(tmp_path):
    csv = _write(tmp_path / "prices.csv", [d.strftime("%d/%m/%Y") for d in DAYS])
    result = _train(csv, tmp_path / "run")
    assert result.exit_code == 0, result.output
    data = _data(tmp_path / "run")
    assert (data["start"], data["end"], data["rows"], data["freq"]) == ("2024-01-02", "2024-03-25", 60, "B")


def test_an_ambiguous_date_column_stops_and_date_format_settles_it(tmp_path):
    months = pd.date_range("2000-01-01", periods=60, freq="MS")
    csv = _write(tmp_path / "prices.csv", [d.strftime("%d/%m/%Y") for d in months])  # every day is 01
    result = _train(csv, tmp_path / "run")
    assert result.exit_code == 1
    assert result.output.strip().splitlines() == [  # row 2, 01/01/2000, reads the same either way
        f"Error: {csv}: row 3: date '01/02/2000' in column 'date' could be day-first (2000-02-01) or month-first "
        "(2000-01-02) and no date in the column tells which; pass --date-format (%d/%m/%Y, %m/%d/%Y, dayfirst or "
        "monthfirst)"]
    assert not (tmp_path / "run").exists()
    result = _train(csv, tmp_path / "run", "--date-format", "%d/%m/%Y")
    assert result.exit_code == 0, result.output
    data = _data(tmp_path / "run")
    assert (data["start"], data["end"], data["freq"]) == ("2000-01-01", "2004-12-01", "MS")


def test_stamps_with_an_offset_keep_the_exchanges_local_date(tmp_path):
    days = pd.bdate_range("2024-01-04", periods=60)  # a Thursday, as Yahoo exports a Tokyo listing
    csv = _write(tmp_path / "tokyo.csv", [f"{d:%Y-%m-%d} 00:00:00+09:00" for d in days])
    result = _train(csv, tmp_path / "run")
    assert result.exit_code == 0, result.output
    data = _data(tmp_path / "run")
    assert (data["start"], data["end"], data["freq"]) == ("2024-01-04", days[-1].date().isoformat(), "B")


def test_offsets_that_change_with_daylight_saving_load(tmp_path):
    days = pd.bdate_range("2023-02-01", periods=60).tz_localize("America/New_York")  # -05:00, then -04:00
    assert {str(d)[-6:] for d in days} == {"-05:00", "-04:00"}
    csv = _write(tmp_path / "nyse.csv", [str(d) for d in days])
    result = _train(csv, tmp_path / "run")
    assert result.exit_code == 0, result.output
    data = _data(tmp_path / "run")
    assert (data["start"], data["end"], data["rows"], data["freq"]) == ("2023-02-01", "2023-04-25", 60, "B")


def _holes(tmp_path):
    values = [f"{100 + i}" for i in range(60)]
    for row, marker in ((0, ""), (10, "NA"), (30, "."), (31, "#N/A")):  # file rows 2, 12, 32 and 33
        values[row] = marker
    return _write(tmp_path / "rates.csv", [f"{d:%Y-%m-%d}" for d in DAYS], values)


def test_missing_values_stop_by_default_and_say_how_to_go_on(tmp_path):
    csv = _holes(tmp_path)
    result = _train(csv, tmp_path / "run")
    assert result.exit_code == 1
    assert result.output.strip().splitlines() == [
        f"Error: {csv}: row 2: missing value in column 'close' (--missing drop or --missing ffill loads the file "
        "anyway) (and 3 more problem rows)"]
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize(("missing", "rows", "note"), [
    ("drop", 56, "missing values: 4 rows dropped (--missing drop)"),
    ("ffill", 59, "missing values: 3 rows filled with the previous row's value, 1 leading row dropped (nothing "
                  "above it to fill from) (--missing ffill)"),
])
def test_missing_drop_and_ffill_are_counted_printed_and_recorded(tmp_path, missing, rows, note):
    result = _train(_holes(tmp_path), tmp_path / "run", "--missing", missing)
    assert result.exit_code == 0, result.output
    assert result.stderr.count(f"rates: {note}") == 1  # printed once, on stderr
    data = _data(tmp_path / "run")
    assert (data["rows"], data["notes"][0], data["start"]) == (rows, note, "2024-01-03")  # then any gap notes
