"""Dates written as text, read without guessing: the one set of rules for CSV files and store imports.

ISO dates (``2000-02-01``) and dates with a month name read as written. In ``a/b/yyyy`` dates (also with
``.`` or ``-``, or a 2-digit year) the order comes from ``date_format`` or from the whole column: a first
field of 13-31 proves day-first, a second field of 13-31 proves month-first; a column that proves both, or
proves neither while some date reads two ways (``01/02``), raises `DateOrderError`. A UTC offset
(``+09:00``, as Yahoo exports other exchanges) is dropped, not applied: the date kept is the exchange's
local date as written, so offsets may change within a column (daylight saving), but every date has one or
none has.
"""

from __future__ import annotations

from datetime import date, datetime

import pandas as pd

from hpcast.errors import DataError

__all__ = ["DateOrderError", "check_date_format", "read_dates"]

_DATE_ORDERS = {"dayfirst": True, "monthfirst": False}
# The one common spelling whose field order the text does not show: a/b/year, with /, . or - between.
_NUMERIC_DATE = r"^(?P<first>\d{1,2})(?P<sep>[/.-])(?P<second>\d{1,2})(?P=sep)(?P<year>\d{4}|\d{2})(?P<rest>[ T].*)?$"


class DateOrderError(DataError):
    """A column's a/b/year dates prove no field order, or both; ``row`` is the row ``rule`` is about."""

    def __init__(self, row: int, rule: str) -> None:
        super().__init__(f"row {row}: {rule}")
        self.row, self.rule = row, rule


def _full_year(text: str) -> int:
    """A 4-digit year as is; a 2-digit one as strptime's %y reads it (69-99: 1900s, 00-68: 2000s)."""
    year = int(text)
    return year if len(text) == 4 else year + (1900 if year >= 69 else 2000)


def _date_order(parts: pd.DataFrame, text: pd.Series, rows: pd.Series, column: str) -> bool:
    """Whether the column's a/b/year dates are day-first, as proven by a field above 12 (raises if unproven)."""
    numeric = parts["first"].notna()
    first, second = parts["first"][numeric].astype(int), parts["second"][numeric].astype(int)
    proofs = [(labels[0], kind) for labels, kind in
              ((first.index[first.between(13, 31)], "day-first"), (second.index[second.between(13, 31)], "month-first"))
              if len(labels)]
    if len(proofs) == 2:
        (earlier, earlier_kind), (later, later_kind) = sorted(proofs, key=lambda proof: rows[proof[0]])
        raise DateOrderError(int(rows[later]), f"date {text[later]!r} in column {column!r} is {later_kind}, but row "
                                               f"{int(rows[earlier])} ({text[earlier]!r}) is {earlier_kind} (a column "
                                               "must hold one order)")
    if proofs:
        return proofs[0][1] == "day-first"
    ambiguous = first.between(1, 12) & second.between(1, 12) & (first != second)
    if not ambiguous.any():
        return True  # every date reads the same either way (01/01, 02/02, ...) or is no date at all
    label = ambiguous.index[ambiguous][0]
    a, b, sep, year = int(first[label]), int(second[label]), parts["sep"][label], parts["year"][label]
    full, y = _full_year(year), "%Y" if len(year) == 4 else "%y"
    raise DateOrderError(int(rows[label]), f"date {text[label]!r} in column {column!r} could be day-first "
                                           f"({date(full, b, a)}) or month-first ({date(full, a, b)}) and no date in "
                                           f"the column tells which; pass --date-format (%d{sep}%m{sep}{y}, "
                                           f"%m{sep}%d{sep}{y}, dayfirst or monthfirst)")


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


def _offset_problems(has_offset: pd.Series, text: pd.Series, rows: pd.Series, column: str) -> pd.Series:
    """The rule broken by each date with a UTC offset when the first date has none, or the other way round."""
    problems = pd.Series(None, index=has_offset.index, dtype=object)
    if has_offset.nunique() < 2:
        return problems
    first = has_offset.index[0]
    said = ("has one", "has no UTC offset") if has_offset[first] else ("has none", "has a UTC offset")
    odd = has_offset.index[has_offset != has_offset[first]]
    problems.loc[odd] = [f"date {text[label]!r} in column {column!r} {said[1]} but row {int(rows[first])} "
                     f"({text[first]!r}) {said[0]} (give every date an offset, or none)" for label in odd]
    return problems


def check_date_format(date_format: str | None) -> None:
    """Raise `DataError` unless ``date_format`` is None, a strptime format, ``dayfirst`` or ``monthfirst``.

    Example:
        >>> check_date_format("%d/%m/%Y")
    """
    if date_format is not None and date_format not in _DATE_ORDERS and "%" not in date_format:
        raise DataError(f"date_format ({date_format!r}) must be a strptime format such as %d/%m/%Y, or dayfirst "
                        "or monthfirst")


def read_dates(text: pd.Series, date_format: str | None = None, *, column: str,
               rows: pd.Series) -> tuple[pd.Series, pd.Series]:
    """Read a column of date texts by the module's rules: naive wall-clock dates and the rule each row breaks.

    Args:
        text: the dates as written, stripped; ``""`` where a cell is blank.
        date_format: a strptime format every date must match (``%d/%m/%Y``; ``%z`` reads an offset), or
            ``dayfirst`` / ``monthfirst`` for the order of a/b/year dates; default: ISO and month-name
            dates as written, a/b/year dates in the order the column proves.
        column: the column's name, for the messages.
        rows: the row number each text is reported as (same index as ``text``).

    Returns:
        ``(dates, problems)``, both indexed like ``text``: ``dates`` as ``datetime64[ns]`` without a time
        zone (NaT where blank or unreadable), ``problems`` the rule each row breaks (NaN where none).

    Raises:
        DataError: ``date_format`` is neither a strptime format nor ``dayfirst`` / ``monthfirst``.
        DateOrderError: the column's a/b/year dates prove neither order while one reads two ways, or both.

    Example:
        >>> text = pd.Series(["31/01/2000", "01/02/2000", "yesterday"])
        >>> dates, problems = read_dates(text, column="date", rows=pd.Series([2, 3, 4]))
        >>> [str(day.date()) for day in dates[:2]], problems[2]
        (['2000-01-31', '2000-02-01'], "date 'yesterday' in column 'date' is not a date (expected e.g. 2020-01-31)")
    """
    check_date_format(date_format)
    present = text != ""
    problems = pd.Series(None, index=text.index, dtype=object)
    problems.loc[~present] = f"missing date in column {column!r}"
    readable = text[present]
    if date_format is None or date_format in _DATE_ORDERS:
        parts = readable.str.extract(_NUMERIC_DATE)
        dayfirst = _DATE_ORDERS[date_format] if date_format else _date_order(parts, readable, rows, column)
        readable = _numeric_to_iso(readable, parts, dayfirst)
    read = [_wall_clock(item, None if date_format in _DATE_ORDERS else date_format) for item in readable]
    dates = pd.Series(pd.NaT, index=text.index, dtype="datetime64[ns]")
    dates[present] = pd.Series([stamp for stamp, _ in read], index=readable.index, dtype="datetime64[ns]")
    rule = (f"does not match --date-format {date_format!r}" if date_format
            else "is not a date (expected e.g. 2020-01-31)")
    unreadable = present & dates.isna()
    problems.loc[unreadable] = [f"date {item!r} in column {column!r} {rule}" for item in text[unreadable]]
    has_offset = pd.Series([offset for _, offset in read], index=readable.index, dtype=bool)
    offsets = _offset_problems(has_offset[dates[present].notna()], text, rows, column).dropna()
    problems.loc[offsets.index] = offsets
    return dates, problems
