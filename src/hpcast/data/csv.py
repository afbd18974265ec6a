"""A user's CSV file as a `Dataset`, with errors that name the file, the row and the rule.

Rows are numbered as a spreadsheet shows them: the header is row 1, the first data row is row 2.
Nothing is coerced or dropped: the first broken rule stops the load (and says how many other rows break
rules), because a forecast built on silently repaired data cannot be trusted.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from hpcast.data.frame import DataError, Dataset, infer_frequency

__all__ = ["load_csv"]

_VALUE_PREFERENCE = ("adj_close", "close", "value", "price")


def _find_column(columns: list[str], wanted: str | None, role: str, path: Path) -> str:
    if wanted is not None:
        for column in columns:
            if column == wanted or column.strip().lower() == wanted.strip().lower():
                return column
        raise DataError(f"{path}: row 1: no {role} column {wanted!r} (columns: {', '.join(columns)})")
    if role == "date":
        return _find_column(columns, "date", role, path)
    normalised = {c.strip().lower().replace(" ", "_"): c for c in columns}
    for name in _VALUE_PREFERENCE:
        if name in normalised:
            return normalised[name]
    others = [c for c in columns if c.strip().lower() != "date"]
    if len(others) == 1:
        return others[0]
    raise DataError(f"{path}: row 1: cannot tell which column holds the values; "
                    f"pass --value-col (columns: {', '.join(columns)})")


def _first_problem(path: Path, problems: list[tuple[int, str]]) -> None:
    if problems:
        problems.sort()
        row, rule = problems[0]
        more = f" (and {len(problems) - 1} more problem rows)" if len(problems) > 1 else ""
        raise DataError(f"{path}: row {row}: {rule}{more}")


def load_csv(
    path: str | Path,
    *,
    date_col: str | None = None,
    value_col: str | None = None,
    require_positive: bool = True,
    name: str | None = None,
) -> Dataset:
    """Load one date column and one value column from a CSV file.

    Args:
        path: the CSV file (comma separated, header in the first row).
        date_col: column holding dates; default ``date`` (any case).
        value_col: column holding values; default the first of adj_close, close, value, price, or the
            only other column.
        require_positive: reject values <= 0 (true for prices; log-returns need it).
        name: dataset name; default the file's stem.

    Raises:
        DataError: one line naming the file, the row and the rule broken.

    Example:
        >>> ds = load_csv("prices.csv", value_col="Close")  # doctest: +SKIP
    """
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: no such file")
    if path.stat().st_size == 0 or not path.read_text(errors="replace").strip():
        raise DataError(f"{path}: row 1: file is empty (expected a header row and at least 3 data rows)")
    try:
        raw = pd.read_csv(path, dtype=str, keep_default_na=False, skipinitialspace=True)
    except (pd.errors.ParserError, UnicodeDecodeError) as error:
        raise DataError(f"{path}: not a readable CSV file ({error})".replace("\n", " ")) from error
    columns = [str(c) for c in raw.columns]
    date_name = _find_column(columns, date_col, "date", path)
    value_name = _find_column(columns, value_col, "value", path)
    if len(raw) < 3:
        raise DataError(f"{path}: row {len(raw) + 2}: need at least 3 data rows, found {len(raw)}")

    row_numbers = pd.Series(np.arange(2, len(raw) + 2), index=raw.index)
    text_dates = raw[date_name].str.strip()
    text_values = raw[value_name].str.strip()
    problems: list[tuple[int, str]] = []

    dates = pd.to_datetime(text_dates, errors="coerce", format="mixed")
    for row, text in zip(row_numbers[dates.isna()], text_dates[dates.isna()], strict=True):
        rule = (f"missing date in column {date_name!r}" if not text
                else f"date {text!r} in column {date_name!r} is not a date (expected e.g. 2020-01-31)")
        problems.append((int(row), rule))

    values = pd.to_numeric(text_values, errors="coerce")
    for row, text in zip(row_numbers[values.isna()], text_values[values.isna()], strict=True):
        rule = (f"missing value in column {value_name!r}" if not text
                else f"value {text!r} in column {value_name!r} is not a number")
        problems.append((int(row), rule))
    if require_positive:
        bad = values <= 0
        for row, value in zip(row_numbers[bad], values[bad], strict=True):
            problems.append((int(row), f"value {value:g} in column {value_name!r} must be > 0 (prices are "
                                       "positive)"))
    _first_problem(path, problems)

    if getattr(dates.dt, "tz", None) is not None:
        dates = dates.dt.tz_convert(None)
    duplicated = dates.duplicated(keep="first")
    for row, date in zip(row_numbers[duplicated], dates[duplicated], strict=True):
        first = int(row_numbers[dates == date].iloc[0])
        problems.append((int(row), f"duplicate date {date.date()} (first seen on row {first})"))
    _first_problem(path, problems)
    earlier = dates.diff() < pd.Timedelta(0)
    for row, date, previous in zip(row_numbers[earlier], dates[earlier], dates.shift()[earlier], strict=True):
        problems.append((int(row), f"date {date.date()} comes after {previous.date()} on the row above "
                                   "(dates must be in increasing order)"))
    _first_problem(path, problems)

    frame = pd.DataFrame({"symbol": name or path.stem, "date": dates.to_numpy(dtype="datetime64[ns]"),
                          "value": values.to_numpy(dtype=np.float64)})
    return Dataset(name=name or path.stem, frame=frame, freq=infer_frequency(frame["date"]),
                   target="value", source=f"csv: {path} (date={date_name!r}, value={value_name!r})")
