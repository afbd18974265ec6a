"""Long CSV files: one row per series and date, in Nixtla's convention.

An id column (``unique_id``), a date column (``ds``), the target (``y``) and any numeric columns to use as
covariates. Cells are read by the rules `hpcast.data.load_csv` follows (dates never guessed; blank, NA, N/A,
NaN, null, #N/A and ``.`` are missing and follow the ``missing`` policy); errors name the file, the row, the
column and the rule. Rows of a series may come in any order (they are sorted, with a note); the same series
and date twice is an error naming both rows. Series may span different dates, but all must share one
frequency (a series of fewer than 3 rows shows none and takes the others').
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from hpcast.data.calendars import find_gaps, resolve_calendar
from hpcast.data.csv import find_column, first_problem, read_text_table, read_values, repair_missing
from hpcast.data.dates import DateOrderError, read_dates
from hpcast.data.frame import infer_frequency
from hpcast.data.panel import Panel
from hpcast.errors import DataError
from hpcast.features.covariates import bundled_series, parse_covariates
from hpcast.inputs.panels import Names, assemble, one_frequency
from hpcast.inputs.sources import DataRequest

__all__ = ["is_long", "load_long_csv", "read_long_csv"]


def _duplicates(ids: pd.Series, dates: pd.Series, rows: pd.Series, id_name: str,
                date_name: str) -> list[tuple[int, str]]:
    keys = pd.DataFrame({"id": ids, "date": dates})
    twice = keys.duplicated(keep="first")
    if not twice.any():
        return []
    first = rows.groupby([ids, dates], sort=False).transform("first")
    return [(int(row), f"duplicate ({id_name}, {date_name}) ({symbol!r}, {stamp.date()}) (first seen on row "
                       f"{int(seen)})")
            for row, symbol, stamp, seen in zip(rows[twice], ids[twice], dates[twice], first[twice], strict=True)]


def _series_frames(data: pd.DataFrame, ids: pd.Series, dates: pd.Series, target: str, missing: str,
                   path: Path) -> tuple[dict[str, pd.DataFrame], list[str]]:
    """One frame per id (ids in sorted order, as a shuffled export gives the same panel), sorted by date, target
    holes repaired by ``missing``; notes say what was done."""
    frames, notes = {}, []
    for symbol, part in data.groupby(ids, sort=True):
        stamps = dates[part.index]
        if not stamps.is_monotonic_increasing:
            notes.append(f"{symbol}: rows sorted by date (the file lists them out of order)")
        order = np.argsort(stamps.to_numpy(), kind="stable")
        part = part.iloc[order].set_axis(pd.DatetimeIndex(stamps.iloc[order], name="date").as_unit("ns"))
        values, keep, note = repair_missing(part[target], missing)
        part = part.assign(**{target: values})[keep.to_numpy()]
        notes += [f"{symbol}: {note}"] if note else []
        if part.empty:
            raise DataError(f"{path}: series {symbol!r} has no row with a value in column {target!r}")
        frames[str(symbol)] = part
    return frames, notes


def load_long_csv(
    path: str | Path,
    *,
    id_col: str = "unique_id",
    date_col: str = "ds",
    value_col: str = "y",
    covariates: Names = (),
    date_format: str | None = None,
    missing: str = "error",
    calendar: str | None = None,
    require_positive: bool = True,
) -> Panel:
    """Load a long CSV file (one row per series and date) as a panel.

    Args:
        path: the CSV file (comma separated, header in the first row; spreadsheet row numbers in errors).
        id_col, date_col, value_col: the series id, date and target columns (any case).
        covariates: names as in `hpcast.features.covariates.parse_covariates`; the file's other columns
            are valid names too (numeric, read with the same missing-value rules).
        date_format: as `load_csv` takes it (a strptime format, ``dayfirst`` or ``monthfirst``).
        missing: ``error``, ``drop`` or ``ffill``, for the target's and the covariates' missing cells
            (filled only from the same series' row above).
        calendar: the calendar of daily series (a name in `hpcast.data.calendars.CALENDARS`).
        require_positive: reject target values <= 0 (log returns need them).

    Raises:
        DataError: one line naming the file, the row, the column and the rule broken.

    Example:
        >>> panel = load_long_csv("sales.csv", covariates="promo,calendar")  # doctest: +SKIP
    """
    path = Path(path)
    raw = read_text_table(path, missing)
    columns = [str(c) for c in raw.columns]
    id_name = find_column(columns, id_col, "id", path)
    date_name = find_column(columns, date_col, "date", path)
    value_name = find_column(columns, value_col, "value", path)
    others = [c for c in columns if c not in (id_name, date_name, value_name)]
    specs = parse_covariates(covariates, others)
    extra = [c.argument for c in specs if c.kind == "COLUMN"]
    if any(c.kind == "volume" for c in specs):
        extra += [c for c in others if c.strip().lower() == "volume" and c not in extra]

    rows = pd.Series(np.arange(2, len(raw) + 2), index=raw.index)
    ids = raw[id_name].str.strip()
    problems = [(int(row), f"missing id in column {id_name!r}") for row in rows[ids == ""]]
    try:
        dates, date_problems = read_dates(raw[date_name].str.strip(), date_format, column=date_name, rows=rows)
    except DateOrderError as error:
        raise DataError(f"{path}: {error}") from error
    problems += [(int(rows[label]), rule) for label, rule in date_problems.dropna().items()]
    data = pd.DataFrame(index=raw.index)
    for column, positive in ((value_name, require_positive), *((c, False) for c in extra)):
        data[column], more = read_values(raw[column].str.strip(), rows, column, missing, positive)
        problems += more
    first_problem(path, problems)
    first_problem(path, _duplicates(ids, dates, rows, id_name, date_name))

    frames, notes = _series_frames(data, ids, dates, value_name, missing, path)
    freqs = {}
    for symbol, frame in frames.items():
        if len(frame) >= 3:  # a shorter series shows no frequency: it takes the others'
            try:
                freqs[symbol] = infer_frequency(frame.index)
            except DataError as error:
                raise DataError(f"{path}: series {symbol!r}: {error}") from error
    if not freqs:
        raise DataError(f"{path}: every series has fewer than 3 rows; at least one needs 3 to tell the frequency")
    freq = one_frequency(freqs, f"{path}: the series")
    resolved = resolve_calendar(calendar, freq)
    notes += [f"{symbol}: {note}" for symbol, frame in frames.items()
              if (note := find_gaps(frame.index, freq, resolved).note())]
    return assemble(frames, dict.fromkeys(frames, value_name), freq, dict.fromkeys(frames, resolved),
                    name=path.stem, notes=notes, covariates=specs, missing=missing, resolve=bundled_series)


def is_long(request: DataRequest) -> bool:
    """Whether the request's CSV file is long: ``id_col`` was given, or the header has a ``unique_id`` column."""
    if request.id_col:
        return True
    try:
        header = pd.read_csv(request.csv, nrows=0)
    except (OSError, ValueError, UnicodeDecodeError):
        return False  # load_csv says what is wrong with it
    return any(str(c).strip().lower() == "unique_id" for c in header.columns)


def read_long_csv(request: DataRequest) -> Panel:
    """The `SOURCES` reader of a long CSV file (``date_col`` / ``value_col`` default ``ds`` / ``y``)."""
    assert request.csv is not None
    return load_long_csv(request.csv, id_col=request.id_col or "unique_id", date_col=request.date_col or "ds",
                         value_col=request.value_col or "y", covariates=request.covariates,
                         date_format=request.date_format, missing=request.missing, calendar=request.calendar)
