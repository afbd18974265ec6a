"""Derived feature groups: returns and trailing moving averages, computed from stored prices."""

from __future__ import annotations

import numpy as np
import pandas as pd

__all__ = ["MA_WINDOWS", "context_days", "derive"]

MA_WINDOWS = (20, 50, 100, 200)
_PERIOD_DAYS = {"B": 1.0, "D": 1.0, "3D": 3.0, "W": 7.0, "MS": 31.0, "ME": 31.0, "QS": 92.0, "QE": 92.0, "YS": 366.0}


def context_days(freq: str) -> int:
    """Calendar days of history that hold the longest moving-average window for a ``freq`` series, with room
    for holidays (1.6x), so recomputing from a date needs only that much before it."""
    return int(_PERIOD_DAYS.get(freq, 1.0) * max(MA_WINDOWS) * 1.6 + 10)


def derive(prices: pd.DataFrame) -> pd.DataFrame:
    """Returns and trailing moving averages per symbol of ``adj_close`` (``close`` where it is missing).

    A moving average over N rows is missing until N rows exist; the first return of a symbol is missing.
    """
    price = prices["adj_close"].fillna(prices["close"]).to_numpy(dtype=np.float64)
    symbols = prices["symbol"].to_numpy()
    first = np.r_[True, symbols[1:] != symbols[:-1]]
    out = prices[["symbol", "date"]].copy()
    previous = np.r_[np.nan, price[:-1]]
    previous[first] = np.nan
    out["simple_return"] = price / previous - 1.0
    out["log_return"] = np.log(price / previous)
    # rank of each row within its symbol: a window is complete once it holds `window` rows of one symbol
    starts = np.flatnonzero(first)
    rank = np.arange(len(price)) - np.repeat(starts, np.diff(np.r_[starts, len(price)]))
    for window in MA_WINDOWS:
        # each window summed on its own (not a running sum), so a value never depends on where the
        # computation started: recomputing from any point gives bit-identical rows, and re-runs write nothing
        average = np.full(len(price), np.nan)
        if len(price) >= window:
            average[window - 1:] = np.lib.stride_tricks.sliding_window_view(price, window).mean(axis=1)
        average[rank < window - 1] = np.nan
        out[f"ma_{window}"] = average
    return out
