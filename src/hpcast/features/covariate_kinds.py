"""The covariate names `hpcast.features.covariates` understands: the one list, kept free of imports so that
``hpcast --help`` can show it without loading pandas.

Example:
    >>> sorted(COVARIATES)[:2]
    ['COLUMN', 'calendar']
"""

from __future__ import annotations

__all__ = ["COVARIATES", "covariates_help"]

# kind -> one line; NAME, N and COLUMN are placeholders the user fills in
COVARIATES: dict[str, str] = {
    "volume": "log(1 + traded volume) of the series itself (price datasets)",
    "ret:NAME": "daily log return of another bundled dataset or store symbol NAME on the same date (a date NAME "
                "lacks is missing)",
    "ma_ratio:N": "target / mean of its last N values (this row included) - 1; N >= 2",
    "macro:cpi_yoy": "US core CPI (bundled monthly core_cpi, which spans every bundled price series) year over "
                     "year, from its publication (month end + 15 days), carried forward",
    "macro:rate_3m": "US 3-month Treasury yield (treasury_3m), from the next business day (one row later), "
                     "carried forward",
    "calendar": "known-future calendar features (day of week, month, holidays), computed from the dates",
    "COLUMN": "a long CSV's own numeric column, by name",
}


def covariates_help() -> str:
    """`COVARIATES` as one paragraph for ``--help``."""
    return "; ".join(f"{kind}: {words}" for kind, words in COVARIATES.items())
