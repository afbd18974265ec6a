"""`hpcast store import` reads dates by the same rules as `--csv` files: never guessed, offsets dropped."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from hpcast.cli import cli
from hpcast.store import FeatureStore

AMBIGUOUS_RULE = ("date '01/02/2000' in column 'date' could be day-first (2000-02-01) or month-first (2000-01-02) "
                  "and no date in the column tells which; pass --date-format (%d/%m/%Y, %m/%d/%Y, dayfirst or "
                  "monthfirst)")


def _import(tmp_path: Path, dates: list[str], *flags: str) -> Result:
    """Import one symbol's closes on ``dates`` (registering it) into a store under ``tmp_path``."""
    path = tmp_path / "mine.csv"
    path.write_text("symbol,date,close\n" + "".join(f"mine,{day},{10 + i}\n" for i, day in enumerate(dates)))
    return CliRunner().invoke(cli, ["store", "import", str(path), "--register", "B",
                                    "--store", str(tmp_path / "store"), *flags])


def _stored(tmp_path: Path) -> list[str]:
    return [day.isoformat() for day in FeatureStore(str(tmp_path / "store")).read("mine")["date"].dt.date]


def _quarantined(tmp_path: Path) -> list[str]:
    return FeatureStore(str(tmp_path / "store")).quarantine()["reason"].tolist()


def test_a_day_first_file_stores_february_dates(tmp_path: Path) -> None:
    done = _import(tmp_path, ["31/01/2000", "01/02/2000", "02/02/2000", "03/02/2000"])
    assert done.exit_code == 0, done.output
    assert _stored(tmp_path) == ["2000-01-31", "2000-02-01", "2000-02-02", "2000-02-03"]


def test_an_ambiguous_file_is_rejected_as_a_whole_with_the_rule(tmp_path: Path) -> None:
    done = _import(tmp_path, ["01/02/2000", "01/03/2000", "01/04/2000"])
    assert done.exit_code == 1
    assert done.output.count(AMBIGUOUS_RULE) == 3, done.output
    assert "Error: 3 rows rejected (pass --allow-rejects to accept that)" in done.output
    assert _stored(tmp_path) == []
    assert _quarantined(tmp_path) == [AMBIGUOUS_RULE] * 3


def test_a_file_with_both_orders_is_rejected_as_a_whole(tmp_path: Path) -> None:
    done = _import(tmp_path, ["13/01/2000", "14/01/2000", "01/15/2000"])
    assert done.exit_code == 1
    assert _quarantined(tmp_path) == ["date '01/15/2000' in column 'date' is month-first, but row 2 ('13/01/2000') "
                                      "is day-first (a column must hold one order)"] * 3


@pytest.mark.parametrize("date_format", ["%d/%m/%Y", "dayfirst"])
def test_date_format_imports_an_ambiguous_file(tmp_path: Path, date_format: str) -> None:
    done = _import(tmp_path, ["01/02/2000", "01/03/2000", "03/04/2000"], "--date-format", date_format)
    assert done.exit_code == 0, done.output
    assert _stored(tmp_path) == ["2000-02-01", "2000-03-01", "2000-04-03"]


def test_a_date_not_matching_the_date_format_is_rejected_and_its_neighbours_stored(tmp_path: Path) -> None:
    done = _import(tmp_path, ["01/02/2000", "2000-03-01", "01/04/2000"], "--date-format", "%d/%m/%Y")
    assert done.exit_code == 1
    assert _stored(tmp_path) == ["2000-02-01", "2000-04-01"]
    assert _quarantined(tmp_path) == ["date '2000-03-01' in column 'date' does not match --date-format '%d/%m/%Y'"]


def test_a_date_format_that_is_no_format_fails_the_import_with_one_line(tmp_path: Path) -> None:
    done = _import(tmp_path, ["2000-02-01", "2000-03-01", "2000-04-01"], "--date-format", "dd/mm/yyyy")
    assert done.exit_code == 1
    assert done.output.splitlines()[-1] == ("Error: date_format ('dd/mm/yyyy') must be a strptime format such as "
                                            "%d/%m/%Y, or dayfirst or monthfirst")
    assert FeatureStore(str(tmp_path / "store")).symbols().empty  # refused before anything was registered


# Tokyo's closes as Yahoo writes them (midnight, +09:00): converting to UTC would move each one day back.
@pytest.mark.parametrize("dates", [
    ["2024-01-04 00:00:00+09:00", "2024-01-05 00:00:00+09:00", "2024-01-15 00:00:00+09:00"],
    ["04/01/2024 00:00+09:00", "05/01/2024 00:00+09:00", "15/01/2024 00:00+09:00"],
])
def test_a_plus_nine_hours_file_keeps_its_local_dates(tmp_path: Path, dates: list[str]) -> None:
    done = _import(tmp_path, dates)
    assert done.exit_code == 0, done.output
    assert _stored(tmp_path) == ["2024-01-04", "2024-01-05", "2024-01-15"]


def test_a_file_spanning_a_daylight_saving_change_imports(tmp_path: Path) -> None:
    done = _import(tmp_path, ["2023-03-09 00:00:00-05:00", "2023-03-10 00:00:00-05:00",
                              "2023-03-13 00:00:00-04:00", "2023-03-14 00:00:00-04:00"])
    assert done.exit_code == 0, done.output
    assert _stored(tmp_path) == ["2023-03-09", "2023-03-10", "2023-03-13", "2023-03-14"]


def test_dates_without_an_offset_among_dates_with_one_are_rejected(tmp_path: Path) -> None:
    done = _import(tmp_path, ["2023-03-09 00:00:00-05:00", "2023-03-10 00:00:00-05:00", "2023-03-13"])
    assert done.exit_code == 1
    assert _stored(tmp_path) == ["2023-03-09", "2023-03-10"]
    assert _quarantined(tmp_path) == ["date '2023-03-13' in column 'date' has no UTC offset but row 2 "
                                      "('2023-03-09 00:00:00-05:00') has one (give every date an offset, or none)"]
