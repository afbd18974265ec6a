"""Pure transforms of a price series: returns, log-returns, moving averages.

Every output value at date t depends only on inputs at dates <= t (no centring, no backfill), which is
what keeps features free of lookahead.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

__all__ = ["log_returns", "moving_average", "returns"]


def returns(prices: pd.Series) -> pd.Series:
    """Simple returns ``p_t / p_{t-1} - 1``; the first date has none and is dropped."""
    return (prices / prices.shift(1) - 1.0).iloc[1:]


def log_returns(prices: pd.Series) -> pd.Series:
    """Log-returns ``log(p_t / p_{t-1})``; prices must be positive."""
    if (prices <= 0).any():
        raise ValueError(f"prices must be > 0 for log-returns; first bad date: {prices.index[prices <= 0][0]}")
    return pd.Series(np.diff(np.log(prices.to_numpy())), index=prices.index[1:], name=prices.name)


def moving_average(prices: pd.Series, window: int) -> pd.Series:
    """Trailing mean over ``window`` points (NaN until the window is full)."""
    if window < 1:
        raise ValueError(f"window ({window}) must be >= 1")
    return prices.rolling(window, min_periods=window).mean()
