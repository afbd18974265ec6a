"""Sources of series, all returning one tidy shape (`Dataset`): bundled files, CSV files, Yahoo Finance; and
`load_panel`, which gathers many series (and their covariates) into one `Panel`."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from hpcast.data.bundled import BUNDLED, load_bundled
from hpcast.data.csv import load_csv
from hpcast.data.frame import FREQUENCIES, DataError, Dataset, infer_frequency, season_length
from hpcast.data.inputs import load_long_csv, load_panel
from hpcast.data.yahoo import fetch_yahoo

__all__ = ["BUNDLED", "FREQUENCIES", "DataError", "Dataset", "fetch_yahoo", "infer_frequency", "load_bundled",
           "load_csv", "load_data", "load_long_csv", "load_panel", "season_length"]


def load_data(
    dataset: str | None = None,
    *,
    csv: str | Path | None = None,
    date_col: str | None = None,
    value_col: str | None = None,
    ticker: str | None = None,
    start: str | None = None,
    end: str | None = None,
    date_format: str | None = None,
    missing: str = "error",
    calendar: str | None = None,
) -> Dataset:
    """Resolve the data flags every command shares into one `Dataset`.

    Exactly one of ``dataset`` (bundled name), ``csv`` (a file) or ``ticker`` (Yahoo) must be given.
    ``date_format`` and ``missing`` are `load_csv`'s and apply to ``csv`` only. ``calendar`` overrides the
    source's calendar of a daily series (a name in `hpcast.data.calendars.CALENDARS`). Dates the calendar
    (or a periodic series' anchor) expects but the data lack are counted in ``notes``, never skipped silently.

    Example:
        >>> load_data("air_passengers").freq
        'MS'
    """
    given = [flag for flag, value in (("--dataset", dataset), ("--csv", csv), ("--ticker", ticker)) if value]
    if len(given) != 1:
        raise DataError(f"give exactly one of --dataset, --csv or --ticker (got {', '.join(given) or 'none'})")
    csv_only = [flag for flag, used in (("--date-format", date_format is not None), ("--missing", missing != "error"))
                if used]
    if csv_only and not csv:
        verb = "applies" if len(csv_only) == 1 else "apply"
        raise DataError(f"{', '.join(csv_only)} {verb} to --csv files only (got {given[0]})")
    if dataset:
        loaded = load_bundled(dataset)
    elif csv:
        loaded = load_csv(csv, date_col=date_col, value_col=value_col, date_format=date_format, missing=missing)
    else:
        loaded = fetch_yahoo(ticker, start or "2000-01-01", end)
    return _with_gap_notes(loaded if calendar is None else dataclasses.replace(loaded, calendar=calendar))


def _with_gap_notes(dataset: Dataset) -> Dataset:
    """``dataset`` with a note for each symbol whose dates lack some its calendar (or anchor) expects."""
    several = len(dataset.symbols) > 1
    notes = [f"{symbol}: {note}" if several else note for symbol in dataset.symbols
             if (note := dataset.gaps(symbol).note())]
    return dataclasses.replace(dataset, notes=(*dataset.notes, *notes)) if notes else dataset
