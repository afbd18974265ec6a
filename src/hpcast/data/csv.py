"""A user's CSV file as a `Dataset`, with errors that name the file, the row and the rule.

Rows are numbered as a spreadsheet shows them: the header is row 1, the first data row is row 2.
Nothing is coerced or dropped unless asked: the first broken rule stops the load (and says how many other
rows break rules), because a forecast built on silently repaired data cannot be trusted.

Dates are never guessed. ISO dates (``2000-02-01``) and dates with a month name read as written. In
``a/b/yyyy`` dates (also with ``.`` or ``-``, or a 2-digit year) the order comes from ``date_format`` or
from the whole column: a first field above 12 proves day-first, a second field above 12 proves
month-first; a column that proves both, or proves neither while some date reads two ways (``01/02``),
is an error. A UTC offset (``+09:00``, as Yahoo
exports other exchanges) is dropped, not applied: the date kept is the exchange's local date as written,
so offsets may change within a file (daylight saving), but every date has one or none has.

Missing cells (see `MISSING_MARKERS`) are an error unless ``missing`` says to drop or forward-fill their
rows; what was done is counted in `Dataset.notes`. A blank date is always an error.
"""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path

import numpy as np
import pandas as pd

from hpcast.data.frame import DataError, Dataset, infer_frequency

__all__ = ["MISSING_MARKERS", "MISSING_POLICIES", "load_csv"]

_VALUE_PREFERENCE = ("adj_close", "close", "value", "price")
MISSING_MARKERS = ("", "NA", "N/A", "NaN", "null", "#N/A", ".")  # compared ignoring case; "." is FRED's
MISSING_POLICIES = ("error", "drop", "ffill")
_DATE_ORDERS = {"dayfirst": True, "monthfirst": False}
# The one common spelling whose field order the text does not show: a/b/year, with /, . or - between.
_NUMERIC_DATE = r"^(?P<first>\d{1,2})(?P<sep>[/.-])(?P<second>\d{1,2})(?P=sep)(?P<year>\d{4}|\d{2})(?P<rest>[ T].*)?$"
_MISSING_HINT = "(--missing drop or --missing ffill loads the file anyway)"


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


def _plural(count: int, noun: str) -> str:
    return f"{count} {noun}{'' if count == 1 else 's'}"


def _full_year(text: str) -> int:
    """A 4-digit year as is; a 2-digit one as strptime's %y reads it (69-99: 1900s, 00-68: 2000s)."""
    year = int(text)
    return year if len(text) == 4 else year + (1900 if year >= 69 else 2000)


def _date_order(parts: pd.DataFrame, text: pd.Series, rows: pd.Series, column: str, path: Path) -> bool:
    """Whether the column's a/b/year dates are day-first, as proven by a field above 12 (raises if unproven)."""
    numeric = parts["first"].notna()
    first, second = parts["first"][numeric].astype(int), parts["second"][numeric].astype(int)
    proofs = [(labels[0], kind) for labels, kind in
              ((first.index[first.between(13, 31)], "day-first"), (second.index[second.between(13, 31)], "month-first"))
              if len(labels)]
    if len(proofs) == 2:
        (earlier, earlier_kind), (later, later_kind) = sorted(proofs)  # labels count rows from the top
        raise DataError(f"{path}: row {int(rows[later])}: date {text[later]!r} in column {column!r} is {later_kind}, "
                        f"but row {int(rows[earlier])} ({text[earlier]!r}) is {earlier_kind} (a column must hold "
                        "one order)")
    if proofs:
        return proofs[0][1] == "day-first"
    ambiguous = first.between(1, 12) & second.between(1, 12) & (first != second)
    if not ambiguous.any():
        return True  # every date reads the same either way (01/01, 02/02, ...) or is no date at all
    label = ambiguous.index[ambiguous][0]
    a, b, sep, year = int(first[label]), int(second[label]), parts["sep"][label], parts["year"][label]
    full, y = _full_year(year), "%Y" if len(year) == 4 else "%y"
    raise DataError(f"{path}: row {int(rows[label])}: date {text[label]!r} in column {column!r} could be day-first "
                    f"({date(full, b, a)}) or month-first ({date(full, a, b)}) and no date in the column tells "
                    f"which; pass --date-format (%d{sep}%m{sep}{y}, %m{sep}%d{sep}{y}, dayfirst or monthfirst)")


def _numeric_to_iso(text: pd.Series, parts: pd.DataFrame, dayfirst: bool) -> pd.Series:
    """Rewrite a/b/year dates as year-month-day (keeping any time and offset); other texts as they are."""
    numeric = parts["first"].notna()
    if not numeric.any():
        return text
    fields = parts[numeric].fillna({"rest": ""})
    day, month = (fields["first"], fields["second"]) if dayfirst else (fields["second"], fields["first"])
    iso = [f"{_full_year(y)}-{int(m):02d}-{int(d):02d}{rest}"
           for y, m, d, rest in zip(fields["year"], month, day, fields["rest"], strict=True)]
    return text.where(~numeric, pd.Series(iso, index=fields.index))


def _wall_clock(text: str, date_format: str | None) -> tuple[pd.Timestamp | None, bool]:
    """The date and time as written (a UTC offset dropped, not applied) and whether it had an offset.

    None when the text is no date (words such as "now" included) or does not match ``date_format``.
    """
    if not any(character.isdigit() for character in text):
        return None, False
    try:
        stamp = datetime.strptime(text, date_format) if date_format else pd.Timestamp(text)
    except (ValueError, OverflowError):
        return None, False
    if stamp is pd.NaT:
        return None, False
    return pd.Timestamp(stamp.replace(tzinfo=None)), stamp.tzinfo is not None


def _read_dates(text: pd.Series, rows: pd.Series, column: str, date_format: str | None,
                path: Path) -> tuple[pd.Series, list[tuple[int, str]]]:
    """Naive wall-clock dates (NaT where unreadable or blank) and the rows that break a date rule."""
    if date_format is not None and date_format not in _DATE_ORDERS and "%" not in date_format:
        raise DataError(f"date_format ({date_format!r}) must be a strptime format such as %d/%m/%Y, or dayfirst "
                        "or monthfirst")
    present = text != ""
    problems = [(int(row), f"missing date in column {column!r}") for row in rows[~present]]
    readable = text[present]
    if date_format is None or date_format in _DATE_ORDERS:
        parts = readable.str.extract(_NUMERIC_DATE)
        dayfirst = _DATE_ORDERS[date_format] if date_format else _date_order(parts, readable, rows, column, path)
        readable = _numeric_to_iso(readable, parts, dayfirst)
    read = [_wall_clock(item, None if date_format in _DATE_ORDERS else date_format) for item in readable]
    dates = pd.Series(pd.NaT, index=text.index, dtype="datetime64[ns]")
    dates[present] = pd.Series([stamp for stamp, _ in read], index=readable.index, dtype="datetime64[ns]")
    rule = (f"does not match --date-format {date_format!r}" if date_format
            else "is not a date (expected e.g. 2020-01-31)")
    problems += [(int(rows[label]), f"date {text[label]!r} in column {column!r} {rule}")
                 for label in dates.index[present & dates.isna()]]
    has_offset = pd.Series([offset for _, offset in read], index=readable.index, dtype=bool)
    return dates, problems + _offset_problems(has_offset[dates[present].notna()], text, rows, column)


def _offset_problems(has_offset: pd.Series, text: pd.Series, rows: pd.Series,
                     column: str) -> list[tuple[int, str]]:
    """Rows whose date has a UTC offset when the first date has none, or the other way round."""
    if has_offset.nunique() < 2:
        return []
    first = has_offset.index[0]
    said = ("has one", "has no UTC offset") if has_offset[first] else ("has none", "has a UTC offset")
    return [(int(rows[label]), f"date {text[label]!r} in column {column!r} {said[1]} but row {int(rows[first])} "
                               f"({text[first]!r}) {said[0]} (give every date an offset, or none)")
            for label in has_offset.index[has_offset != has_offset[first]]]


def _read_values(text: pd.Series, rows: pd.Series, column: str, missing: str,
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


def _repair_missing(values: pd.Series, missing: str) -> tuple[pd.Series, pd.Series, str | None]:
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
    if missing not in MISSING_POLICIES:
        raise DataError(f"missing ({missing!r}) must be one of {', '.join(MISSING_POLICIES)}")
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
    dates, problems = _read_dates(text_dates, row_numbers, date_name, date_format, path)
    values, value_problems = _read_values(text_values, row_numbers, value_name, missing, require_positive)
    _first_problem(path, problems + value_problems)

    duplicated = dates.duplicated(keep="first")
    for row, stamp in zip(row_numbers[duplicated], dates[duplicated], strict=True):
        first = int(row_numbers[dates == stamp].iloc[0])
        problems.append((int(row), f"duplicate date {stamp.date()} (first seen on row {first})"))
    _first_problem(path, problems)
    earlier = dates.diff() < pd.Timedelta(0)
    for row, stamp, previous in zip(row_numbers[earlier], dates[earlier], dates.shift()[earlier], strict=True):
        problems.append((int(row), f"date {stamp.date()} comes after {previous.date()} on the row above "
                                   "(dates must be in increasing order)"))
    _first_problem(path, problems)

    values, keep, note = _repair_missing(values, missing)
    if keep.sum() < 3:
        raise DataError(f"{path}: need at least 3 data rows with a value, found {int(keep.sum())} "
                        f"({_plural(int((~keep).sum()), 'row')} with missing values dropped by --missing {missing})")
    frame = pd.DataFrame({"symbol": name or path.stem, "date": dates[keep].to_numpy(dtype="datetime64[ns]"),
                          "value": values[keep].to_numpy(dtype=np.float64)})
    return Dataset(name=name or path.stem, frame=frame, freq=infer_frequency(frame["date"]),
                   target="value", source=f"csv: {path} (date={date_name!r}, value={value_name!r})",
                   notes=(note,) if note else ())
