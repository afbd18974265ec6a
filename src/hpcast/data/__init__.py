"""Sources of series, all returning one tidy shape (`Dataset`): bundled files, CSV files, Yahoo Finance."""

from __future__ import annotations

from pathlib import Path

from hpcast.data.bundled import BUNDLED, load_bundled
from hpcast.data.csv import load_csv
from hpcast.data.frame import FREQUENCIES, DataError, Dataset, infer_frequency, season_length
from hpcast.data.yahoo import fetch_yahoo

__all__ = ["BUNDLED", "FREQUENCIES", "DataError", "Dataset", "fetch_yahoo", "infer_frequency", "load_bundled",
           "load_csv", "load_data", "season_length"]


def load_data(
    dataset: str | None = None,
    *,
    csv: str | Path | None = None,
    date_col: str | None = None,
    value_col: str | None = None,
    ticker: str | None = None,
    start: str | None = None,
    end: str | None = None,
) -> Dataset:
    """Resolve the data flags every command shares into one `Dataset`.

    Exactly one of ``dataset`` (bundled name), ``csv`` (a file) or ``ticker`` (Yahoo) must be given.

    Example:
        >>> load_data("air_passengers").freq
        'MS'
    """
    given = [flag for flag, value in (("--dataset", dataset), ("--csv", csv), ("--ticker", ticker)) if value]
    if len(given) != 1:
        raise DataError(f"give exactly one of --dataset, --csv or --ticker (got {', '.join(given) or 'none'})")
    if dataset:
        return load_bundled(dataset)
    if csv:
        return load_csv(csv, date_col=date_col, value_col=value_col)
    return fetch_yahoo(ticker, start or "2000-01-01", end)
