"""Series as tidy frames (`Dataset`): bundled files, CSV files, Yahoo Finance; their calendars and dates; and
`Panel`, many series in one buffer. Reading any source into a panel, with covariates, is `hpcast.inputs`'."""

from __future__ import annotations

from hpcast.data.bundled import BUNDLED, load_bundled
from hpcast.data.csv import load_csv
from hpcast.data.frame import FREQUENCIES, Dataset, infer_frequency, season_length
from hpcast.data.yahoo import fetch_yahoo
from hpcast.errors import DataError

__all__ = ["BUNDLED", "FREQUENCIES", "DataError", "Dataset", "fetch_yahoo", "infer_frequency", "load_bundled",
           "load_csv", "season_length"]
