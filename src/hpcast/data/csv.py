"""A user's CSV file as a `Dataset`, with errors that name the file, the row and the rule.

Rows are numbered as a spreadsheet shows them: the header is row 1, the first data row is row 2.
Nothing is coerced or dropped unless asked: the first broken rule stops the load (and says how many other
rows break rules), because a forecast built on silently repaired data cannot be trusted.

Dates are never guessed: they follow `hpcast.data.dates` (the rules store imports follow too). ISO and
month-name dates read as written; ``a/b/yyyy`` dates in the order ``date_format`` gives or the whole
column proves, else an error; a UTC offset is dropped, not applied (the exchange's local date is kept).

Missing cells (see `MISSING_MARKERS`) are an error unless ``missing`` says to drop or forward-fill their
rows; what was done is counted in `Dataset.notes`. A blank date is always an error.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from hpcast.data.dates import DateOrderError, read_dates
from hpcast.data.frame import Dataset, infer_frequency
from hpcast.errors import DataError

__all__ = ["MISSING_MARKERS", "MISSING_POLICIES", "find_column", "first_problem", "load_csv", "read_text_table",
           "read_values", "repair_missing"]

_VALUE_PREFERENCE = ("adj_close", "close", "value", "price")
MISSING_MARKERS = ("", "NA", "N/A", "NaN", "null", "#N/A", ".")  # compared ignoring case; "." is FRED's
MISSING_POLICIES = ("error", "drop", "ffill")
_MISSING_HINT = "(--missing drop or --missing ffill loads the file anyway)"


def find_column(columns: list[str], wanted: str | None, role: str, path: Path) -> str:
    if wanted is not None:
        for column in columns:
            if column == wanted or column.strip().lower() == wanted.strip().lower():
                return column
        raise DataError(f"{path}: row 1: no {role} column {wanted!r} (columns: {', '.join(columns)})")
    if role == "date":
        return find_column(columns, "date", role, path)
    normalised = {c.strip().lower().replace(" ", "_"): c for c in columns}
    for name in _VALUE_PREFERENCE:
        if name in normalised:
            return normalised[name]
    others = [c for c in columns if c.strip().lower() != "date"]
    if len(others) == 1:
        return others[0]
    raise DataError(f"{path}: row 1: cannot tell which column holds the values; "
                    f"pass --value-col (columns: {', '.join(columns)})")


def first_problem(path: Path, problems: list[tuple[int, str]]) -> None:
    if problems:
        problems.sort()
        row, rule = problems[0]
        more = f" (and {len(problems) - 1} more problem rows)" if len(problems) > 1 else ""
        raise DataError(f"{path}: row {row}: {rule}{more}")


def _plural(count: int, noun: str) -> str:
    return f"{count} {noun}{'' if count == 1 else 's'}"


def read_values(text: pd.Series, rows: pd.Series, column: str, missing: str,
                require_positive: bool) -> tuple[pd.Series, list[tuple[int, str]]]:
    """Float values (NaN where a cell is missing) and the rows that break a value rule."""
    blank = text.str.lower().isin([marker.lower() for marker in MISSING_MARKERS])
    values = pd.to_numeric(text.where(~blank), errors="coerce").astype(np.float64)
    problems: list[tuple[int, str]] = []
    if missing == "error":
        problems += [(int(row), f"missing value{f' ({item!r})' if item else ''} in column {column!r} {_MISSING_HINT}")
                     for row, item in zip(rows[blank], text[blank], strict=True)]
    unreadable = ~blank & values.isna()
    problems += [(int(row), f"value {item!r} in column {column!r} is not a number")
                 for row, item in zip(rows[unreadable], text[unreadable], strict=True)]
    infinite = np.isinf(values)
    problems += [(int(row), f"value {item!r} in column {column!r} is not a finite number")
                 for row, item in zip(rows[infinite], text[infinite], strict=True)]
    if require_positive:
        bad = values <= 0
        problems += [(int(row), f"value {value:g} in column {column!r} must be > 0 (prices are positive)")
                     for row, value in zip(rows[bad], values[bad], strict=True)]
    return values, problems


def repair_missing(values: pd.Series, missing: str) -> tuple[pd.Series, pd.Series, str | None]:
    """Values with holes forward-filled (``ffill``), the rows to keep, and a note saying what was done."""
    holes = values.isna()
    if not holes.any():
        return values, ~holes, None
    if missing == "drop":
        return values, ~holes, f"missing values: {_plural(int(holes.sum()), 'row')} dropped (--missing drop)"
    filled = values.ffill()
    leading = int(filled.isna().sum())
    dropped = (f", {_plural(leading, 'leading row')} dropped (nothing above {'it' if leading == 1 else 'them'} "
               "to fill from)" if leading else "")
    note = (f"missing values: {_plural(int(holes.sum()) - leading, 'row')} filled with the previous row's value"
            f"{dropped} (--missing ffill)")
    return filled, filled.notna(), note


def read_text_table(path: Path, missing: str) -> pd.DataFrame:
    """Every cell of a CSV file as text (nothing parsed, nothing treated as missing yet), after checking
    the ``missing`` policy's name and that the file exists and is not empty."""
    if missing not in MISSING_POLICIES:
        raise DataError(f"missing ({missing!r}) must be one of {', '.join(MISSING_POLICIES)}")
    if not path.is_file():
        raise DataError(f"{path}: no such file")
    if path.stat().st_size == 0 or not path.read_text(errors="replace").strip():
        raise DataError(f"{path}: row 1: file is empty (expected a header row and at least 3 data rows)")
    try:
        return pd.read_csv(path, dtype=str, keep_default_na=False, skipinitialspace=True)
    except (pd.errors.ParserError, UnicodeDecodeError) as error:
        raise DataError(f"{path}: not a readable CSV file ({error})".replace("\n", " ")) from error


def load_csv(
    path: str | Path,
    *,
    date_col: str | None = None,
    value_col: str | None = None,
    require_positive: bool = True,
    name: str | None = None,
    date_format: str | None = None,
    missing: str = "error",
) -> Dataset:
    """Load one date column and one value column from a CSV file.

    Dates and missing cells are read as the module docstring says: never guessed, never silently filled.

    Args:
        path: the CSV file (comma separated, header in the first row).
        date_col: column holding dates; default ``date`` (any case).
        value_col: column holding values; default the first of adj_close, close, value, price, or the
            only other column.
        require_positive: reject values <= 0 (true for prices; log-returns need it).
        name: dataset name; default the file's stem.
        date_format: a strptime format every date must match (``%d/%m/%Y``; ``%z`` reads an offset), or
            ``dayfirst`` / ``monthfirst`` for the order of a/b/year dates; default: ISO and month-name
            dates as written, a/b/year dates in the order the column proves.
        missing: what a missing cell in the value column does: ``error`` stops the load; ``drop`` drops
            its row; ``ffill`` fills it with the previous row's value (leading missing rows have none and
            are dropped). Missing means empty or one of `MISSING_MARKERS` (NA, N/A, NaN, null, #N/A and
            FRED's ``.``, in any case); a cell that is present but not a number is always an error. The
            count of rows dropped or filled goes into ``Dataset.notes``.

    Raises:
        DataError: one line naming the file, the row and the rule broken.

    Example:
        >>> ds = load_csv("prices.csv", value_col="Close")  # doctest: +SKIP
        >>> ds = load_csv("rates.csv", date_format="%d/%m/%Y", missing="ffill")  # doctest: +SKIP
    """
    path = Path(path)
    raw = read_text_table(path, missing)
    columns = [str(c) for c in raw.columns]
    date_name = find_column(columns, date_col, "date", path)
    value_name = find_column(columns, value_col, "value", path)
    if len(raw) < 3:
        raise DataError(f"{path}: row {len(raw) + 2}: need at least 3 data rows, found {len(raw)}")

    row_numbers = pd.Series(np.arange(2, len(raw) + 2), index=raw.index)
    text_dates = raw[date_name].str.strip()
    text_values = raw[value_name].str.strip()
    try:
        dates, date_problems = read_dates(text_dates, date_format, column=date_name, rows=row_numbers)
    except DateOrderError as error:
        raise DataError(f"{path}: {error}") from error
    problems = [(int(row_numbers[label]), rule) for label, rule in date_problems.dropna().items()]
    values, value_problems = read_values(text_values, row_numbers, value_name, missing, require_positive)
    first_problem(path, problems + value_problems)

    duplicated = dates.duplicated(keep="first")
    for row, stamp in zip(row_numbers[duplicated], dates[duplicated], strict=True):
        first = int(row_numbers[dates == stamp].iloc[0])
        problems.append((int(row), f"duplicate date {stamp.date()} (first seen on row {first})"))
    first_problem(path, problems)
    earlier = dates.diff() < pd.Timedelta(0)
    for row, stamp, previous in zip(row_numbers[earlier], dates[earlier], dates.shift()[earlier], strict=True):
        problems.append((int(row), f"date {stamp.date()} comes after {previous.date()} on the row above "
                                   "(dates must be in increasing order)"))
    first_problem(path, problems)

    values, keep, note = repair_missing(values, missing)
    if keep.sum() < 3:
        raise DataError(f"{path}: need at least 3 data rows with a value, found {int(keep.sum())} "
                        f"({_plural(int((~keep).sum()), 'row')} with missing values dropped by --missing {missing})")
    frame = pd.DataFrame({"symbol": name or path.stem, "date": dates[keep].to_numpy(dtype="datetime64[ns]"),
                          "value": values[keep].to_numpy(dtype=np.float64)})
    return Dataset(name=name or path.stem, frame=frame, freq=infer_frequency(frame["date"]),
                   target="value", source=f"csv: {path} (date={date_name!r}, value={value_name!r})",
                   notes=(note,) if note else ())
